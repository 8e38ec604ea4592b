// The aftercare sheet's Print button: shown only when this script runs (without it, the page
// says how to print with the browser's own command).
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-sheet");
  if (!button) {
    return;
  }
  button.hidden = false;
  const hint = document.getElementById("print-hint");
  if (hint) {
    hint.hidden = true;
  }
  button.addEventListener("click", () => window.print());
});
