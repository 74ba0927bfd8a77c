// keymap.js - CoralNet's annotation keys as one table (also drawn by the "?" help overlay),
// with two-key sequences ("g n") and a rule for where each key works: in the label field,
// outside text fields, or anywhere.

/** [keys, where, description]; `where`: 'field' (the label code field), 'page' (focus not in a
 * text field), 'any'. The annotate page binds an action to each by its keys. */
export const KEYMAP = [
  ['Enter', 'field', 'Apply the typed label code to the selected points and go to the next unannotated point; with the field empty, accept the top machine suggestion (or confirm the machine label)'],
  ['Tab', 'field', 'Select the next point'],
  ['Shift+Tab', 'field', 'Select the previous point'],
  ['.', 'page', 'Select the first unannotated point'],
  ['g n', 'page', 'Next photo'],
  ['g p', 'page', 'Previous photo'],
  ['Shift+ArrowUp', 'any', 'Zoom in'],
  ['Shift+ArrowDown', 'any', 'Zoom out'],
  ['1 … 5', 'page', 'Take machine suggestion 1 to 5 for the selected points'],
  ['Mod+z', 'any', 'Undo'],
  ['Mod+Shift+z', 'any', 'Redo'],
  ['Delete', 'page', 'Delete the selected points (when deleting is switched on)'],
  ['?', 'page', 'Show this help'],
  ['Escape', 'any', 'Leave the label field, close the help; again: unselect all points'],
];

/** The event as a key name: modifiers (Mod = Ctrl or Cmd, Alt, Shift) + key, letters lowercase,
 * Shift dropped for printable symbols ('?' is '?', not 'Shift+?'). */
export function keyName(e) {
  let k = e.key;
  if (k === ' ') k = 'Space';
  const printableSymbol = k.length === 1 && !/[a-z]/i.test(k);
  if (k.length === 1) k = k.toLowerCase();
  const mods = [];
  if (e.ctrlKey || e.metaKey) mods.push('Mod');
  if (e.altKey) mods.push('Alt');
  if (e.shiftKey && !printableSymbol) mods.push('Shift');
  return [...mods, k].join('+');
}

export function isTextField(el) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
  return el.tagName === 'INPUT' && !['button', 'checkbox', 'radio', 'range', 'color', 'file', 'submit'].includes(el.type);
}

/**
 * A keydown handler over `bindings` {keys: 'g n', where, run(e)}; `isField(el)` tells the
 * label field apart. A pending first key of a sequence expires after 1.5 s; an unmatched
 * printable key outside fields goes to `fallback(e)` (the page types it into the field).
 */
export function createKeymap(bindings, { isField, fallback = () => false }) {
  let prefix = null;
  let prefixAt = 0;
  return (e) => {
    if (e.defaultPrevented || e.isComposing) return;
    const name = keyName(e);
    const el = document.activeElement;
    const where = isField(el) ? 'field' : isTextField(el) ? 'other' : 'page';
    const ok = (b) => b.where === 'any' || b.where === where;
    if (prefix && performance.now() - prefixAt < 1500) {
      const seq = `${prefix} ${name}`;
      prefix = null;
      const b = bindings.find((x) => x.keys === seq && ok(x));
      if (b) { e.preventDefault(); b.run(e); return; }
    }
    prefix = null;
    if (where === 'page' && bindings.some((x) => x.keys.startsWith(`${name} `) && ok(x))) {
      prefix = name; prefixAt = performance.now();
      e.preventDefault();
      return;
    }
    const b = bindings.find((x) => x.keys === name && ok(x));
    if (b) {
      if (b.run(e) !== false) e.preventDefault();
      return;
    }
    if (where === 'page' && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
      if (fallback(e)) e.preventDefault();
    }
  };
}
