// Asks before an irreversible step: a form marked data-confirm="question", or whose chosen
// option is (a decision that cancels sessions), is sent only after a yes in the browser's
// dialog, and then with confirmed=yes, so the server does not ask again.
// Without this script, the server answers a confirm page first (web.pages.confirmation_page).
function questionOf(form) {
  if (form.dataset.confirm) {
    return form.dataset.confirm;
  }
  const chosen = form.querySelector("select option:checked[data-confirm]");
  return chosen ? chosen.dataset.confirm : null;
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = questionOf(form);
  if (!question || form.querySelector('input[name="confirmed"]')) {
    return;
  }
  if (!window.confirm(question)) {
    event.preventDefault();
    return;
  }
  const yes = document.createElement("input");
  yes.type = "hidden";
  yes.name = "confirmed";
  yes.value = "yes";
  form.appendChild(yes);
});
