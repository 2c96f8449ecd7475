// Progressive help only: every page works without it. A "select all" box for lists of
// checkboxes (data-select-all="NAME" ticks every input named NAME in its form).
document.addEventListener("change", (event) => {
  const box = event.target;
  const name = box instanceof HTMLInputElement ? box.dataset.selectAll : undefined;
  if (!name || !box.form) return;
  for (const input of box.form.querySelectorAll(`input[type="checkbox"][name="${name}"]`)) {
    input.checked = box.checked;
  }
});
