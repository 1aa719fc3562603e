/** The default `notify`: a system notification while the page is in the background. */
import type { NotificationRequest } from '../api/options.js';

/**
 * What the system notification shows. The title names the inviter by the id its
 * connection proved, first, and the name it claims only beside it; what it wrote (title,
 * message) goes in the body, so that no peer can pass its call off as someone else's.
 */
export function notificationText(request: Pick<NotificationRequest, 'inviter' | 'title' | 'message'>): { title: string; body: string } {
  const { id, name } = request.inviter;
  // The verified id first: a claimed name ("Your bank") must never read as who is calling.
  const who = name.trim() && name !== id ? `${id} (${name})` : id;
  const body = [request.title, request.message].filter((text) => text !== undefined && text !== '').join('\n');
  return { title: `${who} is calling`, body };
}

export function showSystemNotification(request: NotificationRequest): (() => void) | void {
  if (typeof document === 'undefined' || document.visibilityState !== 'hidden') return;
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  // The plugin's request carries the safe title already (announcer.ts builds it with notificationText).
  const notification = new Notification(request.title ?? notificationText(request).title, {
    body: request.message ?? '',
    tag: request.invitationID,
    data: { invitationID: request.invitationID, resourceID: request.resourceID },
  });
  return () => notification.close();
}
