// Staff console behaviour, loaded as a file (the CSP forbids inline script).
// Forms marked data-confirm ask before submitting.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
