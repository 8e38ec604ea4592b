"""The pharmacist's pages: the stock board (`board`), a lot's page and its transitions
(`lots`), compounding (`batches`); their forms are in `forms`."""
