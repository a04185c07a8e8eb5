// A disclosure menu: a button (aria-expanded, aria-controls) that shows and hides the element it controls.
// The stylesheet decides when it is a menu at all (on a phone; on a wider screen the items stand in the
// toolbar and the button is not shown). Escape, a click outside or choosing an item closes it.

export function mountMenu(button) {
  const menu = document.getElementById(button.getAttribute("aria-controls"));
  // A file picker's input (visually hidden, before its label) takes the focus for the label.
  const items = () => [...menu.querySelectorAll("a, button, input")].filter((el) => !el.hidden && !el.disabled);
  const setOpen = (open) => {
    button.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  };
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    setOpen(open);
    if (open) items()[0]?.focus();
  });
  menu.addEventListener("keydown", (event) => {
    const list = items();
    const at = list.indexOf(document.activeElement);
    if (event.key === "Escape") {
      setOpen(false);
      button.focus();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      list[(at + (event.key === "ArrowDown" ? 1 : list.length - 1)) % list.length]?.focus();
    }
  });
  // Choosing an item (a label opens its file picker) closes the menu; so does a click anywhere else.
  menu.addEventListener("click", () => setOpen(false));
  document.addEventListener("click", (event) => {
    if (!button.contains(event.target) && !menu.contains(event.target)) setOpen(false);
  });
  button.addEventListener("keydown", (event) => {
    if (event.key === "Escape") setOpen(false);
  });
}
