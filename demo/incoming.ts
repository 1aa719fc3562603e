/** Incoming invitations: who calls, the call type, a live countdown to the deadline, Accept and Refuse. */
import type { InvitationReceivedEvent } from 'peer-invitation';
import { callTypeLabel, h, secondsLeft } from './dom.js';

export type Answer = 'accept' | 'refuse';

interface Card {
  element: HTMLLIElement;
  deadline: number;
  countdown: HTMLElement;
  meter: HTMLProgressElement;
}

export class IncomingView {
  private readonly cards = new Map<string, Card>();

  /** `answer` calls the plugin; the app then closes the card with what happened. */
  constructor(
    private readonly list: HTMLUListElement,
    private readonly status: HTMLElement,
    private readonly answer: (invitation: InvitationReceivedEvent, answer: Answer) => Promise<void>,
  ) {}

  show(event: InvitationReceivedEvent): void {
    const { invitationID, inviter, type, data, createTime, deadline } = event;
    this.cards.get(invitationID)?.element.remove();
    const countdown = h('span', { class: 'countdown', 'data-testid': 'countdown' });
    const meter = h('progress', { max: Math.max(1, deadline - createTime), 'aria-hidden': 'true' });
    const accept = h('button', { type: 'button', class: 'good', 'data-testid': 'accept' }, 'Accept');
    const refuse = h('button', { type: 'button', class: 'bad', 'data-testid': 'refuse' }, 'Refuse');
    const element = h(
      'li',
      { class: 'card ringing', 'data-testid': 'incoming', 'data-invitation-id': invitationID, 'data-inviter': inviter.id },
      h('p', { class: 'headline' }, h('strong', { 'data-testid': 'inviter-name' }, inviter.name || inviter.id), ` (${inviter.id}) is calling`),
      h('p', { class: 'meta' }, h('span', { class: `pill type-${type}`, 'data-testid': 'call-type' }, `${callTypeLabel(type)} call`), ' ', countdown),
      ...(data ? [h('p', { class: 'data' }, 'Data: ', h('q', { 'data-testid': 'invitation-data' }, data))] : []),
      meter,
      h('div', { class: 'buttons' }, accept, refuse),
    );
    for (const [button, answer] of [[accept, 'accept'], [refuse, 'refuse']] as const) {
      button.addEventListener('click', () => {
        accept.disabled = refuse.disabled = true;
        void this.answer(event, answer);
      });
    }
    this.cards.set(invitationID, { element, deadline, countdown, meter });
    this.list.append(element);
    this.status.textContent = '';
    this.tick();
  }

  /** Removes the card (answered, canceled or timed out) and says why. */
  close(invitationID: string, message: string): void {
    this.cards.get(invitationID)?.element.remove();
    this.cards.delete(invitationID);
    this.status.textContent = message;
  }

  tick(now = Date.now()): void {
    for (const { deadline, countdown, meter } of this.cards.values()) {
      const seconds = secondsLeft(deadline, now);
      countdown.textContent = `${seconds} s left to answer`;
      countdown.dataset.seconds = String(seconds);
      meter.value = Math.max(0, deadline - now);
    }
  }

  clear(): void {
    this.cards.clear();
    this.list.replaceChildren();
    this.status.textContent = '';
  }
}
