/**
 * Group calls (advanced mode, README "Advanced mode"): start a call, ring someone into it,
 * join late, quit, end for all. Each card shows the call's roster as
 * `invitationUserStateChanged$` tells it; this section carries no media, only the call's state.
 */
import type { CallUser, InvitationError, SignalingPlugin } from 'peer-invitation';
import { byId, h, parseIds, shortId } from './dom.js';
import type { EventLog } from './event-log.js';

interface Card {
  element: HTMLLIElement;
  roster: HTMLUListElement;
  status: HTMLElement;
  users: Map<string, CallUser>;
}

export class GroupCalls {
  private readonly cards = new Map<string, Card>();
  private readonly list = byId<HTMLUListElement>('group-calls');

  constructor(
    private readonly plugin: SignalingPlugin,
    private readonly log: EventLog,
  ) {
    const form = byId<HTMLFormElement>('group-form');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.start(parseIds(byId<HTMLInputElement>('group-invitees').value));
    });
    plugin.invitationUserStateChanged$.subscribe(({ invitationID, users }) => {
      log.add('invitationUserStateChanged$', `call ${shortId(invitationID)}: ${users.map((user) => `${user.id} → ${user.state}`).join(', ')}`);
      const card = this.card(invitationID);
      for (const user of users) card.users.set(user.id, user);
      this.draw(card);
    });
    plugin.invitationEnded$.subscribe(({ invitationID, by, data }) => {
      log.add('invitationEnded$', `call ${shortId(invitationID)} ended by ${by}${data ? `, data "${data}"` : ''}`);
      const card = this.card(invitationID);
      card.element.dataset.ended = 'true';
      card.status.textContent = `Ended by ${by}.`;
    });
    // A ring into a call: the card lets this user join later, after refusing or letting it ring out.
    plugin.invitationReceived$.subscribe((event) => {
      if (event.callID) this.card(event.callID);
    });
  }

  /** Forgets every card: another user connects. */
  clear(): void {
    this.cards.clear();
    this.list.replaceChildren();
  }

  private async start(invitees: string[]): Promise<void> {
    const user = this.plugin.user;
    if (!user) return;
    const result = await this.plugin.sendInvitation({ inviterName: user.name, invitees, timeout: 30, type: 0, data: '', advancedMode: true });
    if (result.error) return this.failed('sendInvitation', result.error);
    this.log.add('sendInvitation', `group call ${shortId(result.invitationID)} with ${invitees.join(', ')}`, 'good');
    this.card(result.invitationID);
  }

  private card(invitationID: string): Card {
    let card = this.cards.get(invitationID);
    if (card) return card;
    const roster = h('ul', { class: 'roster', 'data-testid': 'roster' });
    const status = h('p', { class: 'status', role: 'status' });
    const addInput = h('input', { placeholder: 'dave', spellcheck: 'false', 'aria-label': 'Users to add' });
    const button = (label: string, run: () => Promise<void>) => {
      const element = h('button', { type: 'button', 'data-testid': label.toLowerCase().replace(/ /g, '-') }, label);
      element.addEventListener('click', () => void run());
      return element;
    };
    const element = h(
      'li',
      { class: 'card', 'data-testid': 'group-call', 'data-call-id': invitationID },
      h('p', { class: 'headline' }, h('strong', {}, `Call ${shortId(invitationID)}`)),
      roster,
      h('div', { class: 'buttons' }, addInput, button('Add', () => this.act('addInvitation', invitationID, parseIds(addInput.value)))),
      h(
        'div',
        { class: 'buttons' },
        button('Join', () => this.act('joinInvitation', invitationID)),
        button('Quit', () => this.act('quitInvitation', invitationID)),
        button('End for all', () => this.act('endInvitation', invitationID)),
      ),
      status,
    );
    card = { element, roster, status, users: new Map() };
    this.cards.set(invitationID, card);
    this.list.prepend(element);
    return card;
  }

  private async act(method: 'addInvitation' | 'joinInvitation' | 'quitInvitation' | 'endInvitation', invitationID: string, invitees: string[] = []): Promise<void> {
    const result = method === 'addInvitation' ? await this.plugin.addInvitation({ invitationID, invitees }) : await this.plugin[method]({ invitationID });
    const card = this.card(invitationID);
    if (result.error) {
      card.status.textContent = result.error.message;
      return this.failed(method, result.error);
    }
    card.status.textContent = '';
    this.log.add(method, `call ${shortId(invitationID)}${invitees.length > 0 ? `: ${invitees.join(', ')}` : ''}`, 'good');
  }

  private draw(card: Card): void {
    const users = [...card.users.values()].sort((a, b) => a.id.localeCompare(b.id));
    card.roster.replaceChildren(...users.map((user) => h('li', { 'data-user': user.id, 'data-state': user.state }, `${user.id}: ${user.state}${user.data ? ` ("${user.data}")` : ''}`)));
  }

  private failed(method: string, error: InvitationError): void {
    this.log.add(method, `${error.code}: ${error.message}`, 'bad');
  }
}
