// dli-admin page behaviour. Loaded with the CSP nonce; no inline scripts or handlers anywhere.
"use strict";
if (window.htmx) {
  htmx.config.allowEval = false; // keep 'unsafe-eval' out of the CSP
  htmx.config.includeIndicatorStyles = false; // htmx would inject an inline <style>
}

(function () {
  let lastClicked = null; // the row checkbox clicked last, for shift-click ranges

  const rowBoxes = () => Array.from(document.querySelectorAll('#selection input[name="job_ids"]'));

  function updateCount() {
    const counter = document.getElementById("selected-count");
    if (!counter) return;
    const boxes = rowBoxes();
    const ticked = boxes.filter((box) => box.checked).length;
    const across = document.getElementById("select-across");
    const total = counter.parentElement.dataset.total;
    counter.textContent = across && across.checked ? total : String(ticked);
    const pageBox = document.getElementById("select-page");
    if (pageBox) {
      pageBox.checked = boxes.length > 0 && ticked === boxes.length;
      pageBox.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    if (across) across.closest("label").hidden = !(pageBox && pageBox.checked);
    if (across && across.closest("label").hidden) across.checked = false;
    const button = document.getElementById("delete-selected");
    if (button) button.disabled = ticked === 0 && !(across && across.checked);
  }

  document.addEventListener("click", function (event) {
    const box = event.target;
    if (!(box instanceof HTMLInputElement)) return;
    if (box.id === "select-page") {
      rowBoxes().forEach((b) => { b.checked = box.checked; });
      updateCount();
    } else if (box.name === "job_ids") {
      const boxes = rowBoxes();
      if (event.shiftKey && lastClicked && boxes.includes(lastClicked)) {
        const [a, b] = [boxes.indexOf(lastClicked), boxes.indexOf(box)].sort((x, y) => x - y);
        boxes.slice(a, b + 1).forEach((b2) => { b2.checked = box.checked; });
      }
      lastClicked = box;
      updateCount();
    } else if (box.id === "select-across") {
      updateCount();
    }
  });

  // "Cancel" on a confirmation just closes it when JavaScript runs; without it, the link goes back.
  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("[data-dismiss]");
    if (!link) return;
    event.preventDefault();
    closePanel(document.querySelector(link.dataset.dismiss));
  });

  // "Copy the SQL" on a job's page: the text of the element data-copy names, and a word in its status.
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    const status = document.getElementById(button.getAttribute("aria-describedby"));
    if (!source) return;
    const say = (text) => { if (status) status.textContent = text; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(() => say("Copied."), () => say("Could not copy: select the text and copy it."));
    } else {
      say("Could not copy here: select the text and copy it.");
    }
  });

  // Closing the confirmation (Cancel or Esc) gives the focus back to the button that opened it.
  function closePanel(panel) {
    if (!panel) return;
    panel.replaceChildren();
    const opener = document.getElementById("delete-selected");
    if (opener) opener.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const confirm = document.querySelector("#action-panel #confirm-panel");
    if (confirm) {
      event.preventDefault();
      closePanel(document.getElementById("action-panel"));
    }
  });

  // The server shows times in the user's zone; until they choose one, it uses the browser's, told by this cookie.
  function rememberTimeZone() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || !/^[A-Za-z0-9_+\/-]{1,64}$/.test(zone)) return;
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `dli_admin_tz=${zone}; path=/; max-age=31536000; SameSite=Lax${secure}`;
  }

  function refresh() {
    updateCount();
  }

  // A batch just ended: what its page shows from before is read again (the jobs page's count line from DLI, the
  // batch page's rows). Each such element names its own URL: the confirm pushed the batch's URL meanwhile.
  document.addEventListener("dli-batch-ended", function () {
    if (!window.htmx) return;
    document.querySelectorAll("[data-refresh-src][id]").forEach((el) => {
      const id = `#${el.id}`;
      htmx.ajax("GET", el.dataset.refreshSrc, { target: id, select: id, swap: "outerHTML" });
    });
  });

  rememberTimeZone();
  document.addEventListener("DOMContentLoaded", () => refresh());
  document.addEventListener("htmx:afterSettle", (event) => {
    // A confirmed delete went to a worker: the selection went with it, and the progress takes the focus.
    // Its polls swap the panel itself (not #action-panel), so they leave the focus where it is.
    const progress = event.target && event.target.id === "action-panel" && event.target.querySelector("#batch-progress");
    if (progress) {
      rowBoxes().forEach((b) => { b.checked = false; });
      const across = document.getElementById("select-across");
      if (across) across.checked = false;
      const heading = progress.querySelector("#batch-progress-title");
      if (heading) heading.focus();
    }
    // Swapped content that asks for the focus (the confirmation): scroll it into view, focus its heading.
    const asker = event.target && event.target.querySelector && event.target.querySelector("[data-focus]");
    const wanted = asker && document.querySelector(asker.dataset.focus);
    if (wanted) {
      wanted.scrollIntoView({ block: "start" });
      wanted.focus({ preventScroll: true });
    }
    refresh();
  });
})();
