// Page-wide feedback: the dismissible error banner, a polite status line, and a small dialog that asks for
// a name or path (or just a yes/no) without blocking the page the way prompt() does.

const banner = document.getElementById("banner");
const statusLine = document.getElementById("status");

export function showError(message) {
  banner.querySelector(".banner-text").textContent = message;
  banner.hidden = false;
}

export function clearError() {
  banner.hidden = true;
}

export function showStatus(message) {
  statusLine.textContent = message;
}

banner.querySelector(".banner-close").addEventListener("click", clearError);

const dialog = document.getElementById("ask");
const label = document.getElementById("ask-label");
const input = document.getElementById("ask-input");
const okButton = document.getElementById("ask-ok");
// Cancel is a plain button so that Enter in the text field submits with OK, the form's only submit button.
document.getElementById("ask-cancel").addEventListener("click", () => dialog.close());

// Resolve to the typed text (or true for a yes/no question), or null when cancelled.
export function ask(question, { value = "", okLabel = "OK", withInput = true } = {}) {
  label.textContent = question;
  okButton.textContent = okLabel;
  input.hidden = !withInput;
  input.value = value;
  dialog.returnValue = "";
  dialog.showModal();
  if (withInput) {
    input.focus();
    // Preselect the stem of a file name so typing replaces "photo" but keeps ".jpg".
    const dot = value.lastIndexOf(".");
    input.setSelectionRange(0, dot > 0 ? dot : value.length);
  } else {
    okButton.focus();
  }
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "ok") resolve(null);
      else resolve(withInput ? input.value.trim() || null : true);
    }, { once: true });
  });
}
