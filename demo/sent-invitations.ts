/**
 * What the page remembers of the invitations it sent: the type, deadline and
 * data. After a reload the plugin re-emits each pending invitee's state, but
 * not these details, so the page keeps them in localStorage, per user.
 */
export interface SentInvitation {
  type: number;
  /** ms since the epoch, local clock. */
  deadline: number;
  data: string;
}

/** Kept a little past the deadline so a reload just after it still shows the details. */
const KEEP_AFTER_DEADLINE_MS = 60_000;

export class SentInvitations {
  private key = '';
  private entries: Record<string, SentInvitation> = {};

  /** Loads the given user's entries and forgets the long-expired ones. */
  open(userId: string): void {
    this.key = `peer-invitation-demo:sent:${userId}`;
    let stored: Record<string, SentInvitation> = {};
    try {
      stored = JSON.parse(localStorage.getItem(this.key) ?? '{}') as Record<string, SentInvitation>;
    } catch {
      // Unreadable: start afresh; the plugin still holds the invitations themselves.
    }
    const cutoff = Date.now() - KEEP_AFTER_DEADLINE_MS;
    this.entries = Object.fromEntries(Object.entries(stored).filter(([, sent]) => sent.deadline > cutoff));
    this.write();
  }

  get(invitationID: string): SentInvitation | undefined {
    return this.entries[invitationID];
  }

  save(invitationID: string, sent: SentInvitation): void {
    this.entries[invitationID] = sent;
    this.write();
  }

  private write(): void {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.entries));
    } catch {
      // Storage full or denied: the details are lost on reload, nothing else.
    }
  }
}
