// Account page: copy the API token. Loaded as a file (no inline script, CSP script-src 'self').
"use strict";

function showStatus(text) {
  const status = document.querySelector(".copy-status");
  if (status) status.textContent = text;
}

async function copyFrom(input) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(input.value);
    return;
  }
  // Plain-HTTP deployments have no async clipboard API: copy the selected field instead.
  input.select();
  if (!document.execCommand("copy")) throw new Error("copy refused");
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const input = document.querySelector(button.dataset.copy);
  if (!input) return;
  try {
    await copyFrom(input);
    showStatus("Copied to the clipboard.");
  } catch {
    input.select();
    showStatus("Press Ctrl+C (⌘C) to copy the selected token.");
  }
});
