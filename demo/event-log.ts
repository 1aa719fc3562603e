/** The event log: one readable line per emission, newest first; repeats fold into a count. */
import { h } from './dom.js';

const MAX_ENTRIES = 300;

export class EventLog {
  private last: { source: string; text: string; entry: HTMLLIElement; count: number } | undefined;

  constructor(private readonly list: HTMLOListElement) {}

  /** `source` is the observable's name (`invitationReceived$`) or the method called. */
  add(source: string, text: string, tone: 'info' | 'good' | 'bad' = 'info'): void {
    if (this.last && this.last.source === source && this.last.text === text && this.list.firstElementChild === this.last.entry) {
      this.last.count += 1;
      this.last.entry.querySelector('.count')!.textContent = `×${this.last.count}`;
      return;
    }
    const time = new Date().toLocaleTimeString([], { hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit' });
    const entry = h(
      'li',
      { 'data-testid': 'log-entry', 'data-source': source, class: tone },
      h('time', {}, time),
      ' ',
      h('code', {}, source),
      ' ',
      h('span', { class: 'text' }, text),
      ' ',
      h('span', { class: 'count' }),
    );
    this.list.prepend(entry);
    this.last = { source, text, entry, count: 1 };
    while (this.list.children.length > MAX_ENTRIES) this.list.lastElementChild!.remove();
  }

  clear(): void {
    this.list.replaceChildren();
    this.last = undefined;
  }
}
