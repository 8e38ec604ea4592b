"""The formulary's pages, for pharmacists (administrators may use them too, as the API lets
them): the catalogue of substances (`substances`), cross-reactivity groups (`groups`),
products (`products`), serum formulas and their versions (`serums`), and the queue of drafts
waiting for a second person's approval (`approvals`); their forms are in `forms`, what they
share in `common`."""
