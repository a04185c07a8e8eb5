// The Connect page works without this script; it adds a Copy button to every address and example.
// navigator.clipboard exists only on https and localhost, so plain http on the LAN copies a selection instead.

async function copyText(node) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(node.textContent);
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  if (!document.execCommand("copy")) throw new Error("copy refused");
  selection.removeAllRanges();
}

for (const node of document.querySelectorAll(".connect code.copyable")) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "btn btn-copy";
  button.textContent = "Copy";
  button.setAttribute("aria-label", `Copy ${node.textContent.split("\n")[0]}`);
  button.addEventListener("click", async () => {
    try {
      await copyText(node);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";   // the text stays selected where the browser allowed that much
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
  (node.parentElement.tagName === "PRE" ? node.parentElement : node).after(button);
}
