/** The default `notify`: a system notification while the page is in the background. */
import type { NotificationRequest } from './types.js';

/**
 * What the system notification shows. The title names the inviter by the id its
 * connection proved, the name it claims only beside it; what it wrote (title,
 * message) goes in the body, so that no peer can pass its call off as someone else's.
 */
export function notificationText(request: NotificationRequest): { title: string; body: string } {
  const { id, name } = request.inviter;
  const who = name && name !== id ? `${name} (${id})` : id;
  const body = [request.title, request.message].filter((text) => text !== undefined && text !== '').join('\n');
  return { title: `${who} is calling`, body };
}

export function showSystemNotification(request: NotificationRequest): (() => void) | void {
  if (typeof document === 'undefined' || document.visibilityState !== 'hidden') return;
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  const { title, body } = notificationText(request);
  const notification = new Notification(title, {
    body,
    tag: request.invitationID,
    data: { invitationID: request.invitationID, resourceID: request.resourceID },
  });
  return () => notification.close();
}
