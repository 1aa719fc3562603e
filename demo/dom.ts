/** Small DOM and formatting helpers shared by the demo's views. */

type Attributes = Record<string, string | number | boolean | undefined>;

/** Creates an element; `true` sets an empty attribute, `false` and `undefined` skip it. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...children);
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

export function callTypeLabel(type: number): string {
  return type === 0 ? 'voice' : type === 1 ? 'video' : `type ${type}`;
}

/** Invitation ids are UUIDs; their first block is enough to tell them apart on screen. */
/** `alice:1a2b3c` for `alice:1a2b3c4d-…`: the inviter in full (ids are `<inviter>:<suffix>`), the suffix cut short. */
export function shortId(invitationID: string): string {
  const separator = invitationID.indexOf(':');
  return separator < 0 ? invitationID.slice(0, 8) : invitationID.slice(0, separator + 7);
}

export function secondsLeft(deadline: number, now = Date.now()): number {
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

/** Comma- or line-separated ids; ids may contain single spaces, so spaces do not separate. */
export function parseIds(text: string): string[] {
  return text.split(/[,\n]/).map((id) => id.trim()).filter(Boolean);
}
