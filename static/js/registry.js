// Copy buttons: <button data-copy="element-id">.
document.addEventListener("click", (event) => {
  const id = event.target.dataset && event.target.dataset.copy;
  if (!id || !navigator.clipboard) return;
  navigator.clipboard.writeText(document.getElementById(id).innerText).then(() => {
    event.target.textContent = "Copied";
    setTimeout(() => { event.target.textContent = "Copy"; }, 1500);
  });
});

// Toasts: a close button on each; successes leave by themselves after a while.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-dismiss]");
  if (button) button.closest(".alert").remove();
});
function fadeToasts() {
  document.querySelectorAll("#messages .alert-success, #messages .alert-info").forEach((toast) => {
    if (toast.dataset.timed) return;
    toast.dataset.timed = "1";
    setTimeout(() => toast.remove(), 8000);
  });
}
document.addEventListener("DOMContentLoaded", fadeToasts);
document.addEventListener("htmx:afterSettle", fadeToasts);

// Stage changes: every "Move to…" (data-move) opens the page's one dialog. No target is
// pre-selected; a move that takes a version out of Production says so and needs the tick.
(() => {
  const dialog = () => document.getElementById("move-dialog");

  function update(d) {
    const form = d.querySelector("form");
    const picked = form.querySelector("input[name=stage]:checked");
    const target = picked ? picked.value : "";
    const { version, live, current } = d.dataset;
    let warning = "";
    if (target && current === "Production" && target !== "Production") {
      warning = `This takes v${version} out of Production` +
        (live === version ? ": the model will have no version in Production." : ".");
    } else if (target === "Production" && form.elements.archive_existing.checked && live && live !== version) {
      warning = `This archives v${live}, the version in Production now.`;
    }
    const box = d.querySelector("[data-move-warning]");
    const row = d.querySelector("[data-move-confirm]");
    const confirm = form.elements.confirm_production;
    box.textContent = warning;
    box.hidden = row.hidden = !warning;
    confirm.required = Boolean(warning);
    if (!warning) confirm.checked = false;
    const submit = d.querySelector("[data-move-submit]");
    submit.textContent = target ? `Move v${version} to ${target}` : "Move";
    submit.disabled = !target;
  }

  function open(d, opener) {
    const form = d.querySelector("form");
    form.reset();
    form.action = opener.dataset.move;
    const scope = opener.closest("[data-live]");
    d.dataset.live = scope ? scope.dataset.live : "";
    d.dataset.version = opener.dataset.version;
    d.dataset.current = opener.dataset.stage;
    d.querySelector("[data-move-label]").textContent = opener.dataset.label;
    d.querySelector("[data-move-current]").textContent = opener.dataset.stage;
    form.querySelectorAll("input[name=stage]").forEach((radio) => {
      radio.checked = false;
      radio.disabled = radio.value === opener.dataset.stage;
    });
    update(d);
    if (d.open) d.close();
    d.classList.remove("static");
    d.showModal();
  }

  document.addEventListener("click", (event) => {
    const d = dialog();
    if (!d) return;
    const opener = event.target.closest("[data-move]");
    if (opener) {
      event.preventDefault();
      open(d, opener);
    } else if (event.target === d) {
      d.close(); // a click on the backdrop, outside the form
    } else if (event.target.closest("[data-move-cancel]") && d.open && !d.classList.contains("static")) {
      event.preventDefault();
      d.close();
    }
  });

  document.addEventListener("change", (event) => {
    const d = dialog();
    if (d && d.contains(event.target)) update(d);
  });

  document.addEventListener("submit", (event) => {
    const d = dialog();
    // A dialog without a target (the compare page) posts normally and comes back to the page.
    if (!d || !d.contains(event.target) || d.classList.contains("static") || !window.htmx || !d.dataset.target) return;
    event.preventDefault();
    const form = event.target;
    htmx.ajax("POST", form.action, { source: form, target: d.dataset.target, swap: "outerHTML" })
      .then(() => d.close());
  });

  document.addEventListener("DOMContentLoaded", () => {
    const d = dialog();
    if (d && d.open) update(d);
  });
})();

// A picker that applies itself (<select data-autosubmit>); its form keeps a submit button
// for pages without JavaScript.
document.addEventListener("change", (event) => {
  if (event.target.matches && event.target.matches("select[data-autosubmit]")) {
    event.target.form.requestSubmit();
  }
});

// Colour theme: Auto (the system's choice) -> Dark -> Light -> Auto. Remembered in a cookie
// so the server renders the page in it from the first paint.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-theme-toggle]");
  if (!button) return;
  const order = ["auto", "dark", "light"];
  const now = document.documentElement.dataset.theme || "auto";
  const next = order[(order.indexOf(now) + 1) % order.length];
  if (next === "auto") {
    delete document.documentElement.dataset.theme;
    document.cookie = "theme=; path=/; max-age=0; SameSite=Lax";
  } else {
    document.documentElement.dataset.theme = next;
    document.cookie = `theme=${next}; path=/; max-age=31536000; SameSite=Lax`;
  }
  button.textContent = next[0].toUpperCase() + next.slice(1);
  button.setAttribute("aria-label", `Colour theme: ${next}`);
});

// Registry form: only the chosen flavor's settings are shown (all of them without script).
function showFlavorFields() {
  const choice = document.querySelector("[data-flavor-choice]");
  if (!choice) return;
  document.querySelectorAll("[data-flavor-fields]").forEach((set) => {
    set.hidden = set.dataset.flavorFields !== choice.value;
  });
}
document.addEventListener("DOMContentLoaded", showFlavorFields);
document.addEventListener("change", (event) => {
  if (event.target.matches && event.target.matches("[data-flavor-choice]")) showFlavorFields();
});
