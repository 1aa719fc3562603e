/** Outgoing invitations: each invitee's live state, with Cancel for some or all of them. */
import type { InviteeState } from 'peer-invitation';
import { callTypeLabel, h, secondsLeft, shortId } from './dom.js';
import type { SentInvitation } from './sent-invitations.js';

export const STATE_HELP: Record<InviteeState, string> = {
  queued: 'not delivered yet; retried until the deadline',
  unreachable: 'online, but no network path to them (configure TURN); retried until the deadline',
  delivered: 'ringing on their side',
  accepted: 'accepted',
  refused: 'refused',
  canceled: 'canceled by you',
  timeout: 'no answer in time',
};

const isPending = (state: InviteeState) => state === 'queued' || state === 'unreachable' || state === 'delivered';

interface Row {
  state: InviteeState;
  badge: HTMLElement;
  checkbox: HTMLInputElement;
}

interface Card {
  element: HTMLLIElement;
  headline: HTMLElement;
  countdown: HTMLElement;
  invitees: HTMLUListElement;
  buttons: { selected: HTMLButtonElement; all: HTMLButtonElement; dismiss: HTMLButtonElement };
  rows: Map<string, Row>;
  sent: SentInvitation | undefined;
}

export class OutgoingView {
  private readonly cards = new Map<string, Card>();

  /** `cancel` calls the plugin with the chosen invitees, or all pending ones when undefined. */
  constructor(
    private readonly list: HTMLUListElement,
    private readonly details: (invitationID: string) => SentInvitation | undefined,
    private readonly cancel: (invitationID: string, invitees?: string[]) => Promise<void>,
  ) {}

  /** An `inviteeStateChanged$` event: the first one of an invitation draws its card. */
  update(invitationID: string, invitee: string, state: InviteeState): void {
    const card = this.cards.get(invitationID) ?? this.draw(invitationID);
    let row = card.rows.get(invitee);
    if (!row) {
      const checkbox = h('input', { type: 'checkbox', 'data-testid': 'select-invitee', 'aria-label': `Select ${invitee}` });
      const badge = h('span', { 'data-testid': 'invitee-state' });
      card.invitees.append(
        h('li', { 'data-testid': 'invitee', 'data-invitee': invitee }, h('label', {}, checkbox, ' ', h('span', { class: 'id' }, invitee)), ' ', badge),
      );
      row = { state, badge, checkbox };
      card.rows.set(invitee, row);
    }
    row.state = state;
    row.badge.textContent = state;
    row.badge.className = `state ${state}`;
    row.badge.title = STATE_HELP[state];
    row.checkbox.disabled = !isPending(state);
    if (row.checkbox.disabled) row.checkbox.checked = false;
    this.refresh(card);
  }

  /** The details known once `sendInvitation` resolves (or from storage after a reload). */
  describe(invitationID: string, sent: SentInvitation): void {
    const card = this.cards.get(invitationID);
    if (!card) return;
    card.sent = sent;
    this.refresh(card);
  }

  tick(now = Date.now()): void {
    for (const card of this.cards.values()) this.refreshCountdown(card, now);
  }

  clear(): void {
    this.cards.clear();
    this.list.replaceChildren();
  }

  private draw(invitationID: string): Card {
    const headline = h('p', { class: 'headline' });
    const countdown = h('span', { class: 'countdown', 'data-testid': 'countdown' });
    const invitees = h('ul', { class: 'invitees' });
    const selected = h('button', { type: 'button', class: 'bad', 'data-testid': 'cancel-selected' }, 'Cancel selected');
    const all = h('button', { type: 'button', class: 'bad', 'data-testid': 'cancel-all' }, 'Cancel all');
    const dismiss = h('button', { type: 'button', 'data-testid': 'dismiss', hidden: true }, 'Dismiss');
    const element = h(
      'li',
      { class: 'card', 'data-testid': 'outgoing', 'data-invitation-id': invitationID },
      headline,
      h('p', { class: 'meta' }, countdown),
      invitees,
      h('div', { class: 'buttons' }, selected, all, dismiss),
    );
    const card: Card = { element, headline, countdown, invitees, buttons: { selected, all, dismiss }, rows: new Map(), sent: this.details(invitationID) };
    selected.addEventListener('click', () => {
      const chosen = [...card.rows].filter(([, row]) => row.checkbox.checked).map(([invitee]) => invitee);
      if (chosen.length > 0) void this.cancel(invitationID, chosen);
    });
    all.addEventListener('click', () => void this.cancel(invitationID));
    dismiss.addEventListener('click', () => {
      element.remove();
      this.cards.delete(invitationID);
    });
    this.cards.set(invitationID, card);
    this.list.prepend(element);
    return card;
  }

  private refresh(card: Card): void {
    const invitationID = card.element.dataset.invitationId!;
    const pending = [...card.rows.values()].some((row) => isPending(row.state));
    const what = card.sent ? `${callTypeLabel(card.sent.type)} invitation` : 'Invitation';
    card.headline.replaceChildren(h('span', { class: card.sent ? `pill type-${card.sent.type}` : 'pill' }, what), ' ', h('code', { title: invitationID }, shortId(invitationID)));
    if (card.sent?.data) card.headline.append(' · data ', h('q', {}, card.sent.data));
    card.element.classList.toggle('finished', !pending);
    card.buttons.selected.hidden = card.buttons.all.hidden = !pending;
    card.buttons.dismiss.hidden = pending;
    this.refreshCountdown(card);
  }

  private refreshCountdown(card: Card, now = Date.now()): void {
    const pending = [...card.rows.values()].some((row) => isPending(row.state));
    card.countdown.textContent = !pending ? 'ended' : card.sent ? `${secondsLeft(card.sent.deadline, now)} s left to answer` : 'waiting for answers';
  }
}
