// Asks before an irreversible step: a form marked data-confirm="question" is sent only after
// a yes in the browser's dialog, and then with confirmed=yes, so the server does not ask again.
// Without this script, the server answers a confirm page first (web.pages.confirmation_page).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset.confirm;
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
