// Copy buttons: <button data-copy="element-id">.
document.addEventListener("click", (event) => {
  const id = event.target.dataset && event.target.dataset.copy;
  if (!id || !navigator.clipboard) return;
  navigator.clipboard.writeText(document.getElementById(id).innerText).then(() => {
    event.target.textContent = "Copied";
    setTimeout(() => { event.target.textContent = "Copy"; }, 1500);
  });
});
