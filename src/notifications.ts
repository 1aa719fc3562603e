/**
 * The default `notify`: a system notification while the page is in the background.
 * Its title names the inviter's verified id (the id of the connection the invite
 * came on), with the display name beside it; what the inviter wrote (`title`,
 * `message`) only goes in the body, so no sender can pass for someone else.
 */
import type { NotificationRequest } from './types.js';

export function showSystemNotification(request: NotificationRequest): (() => void) | void {
  if (typeof document === 'undefined' || document.visibilityState !== 'hidden') return;
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  const notification = new Notification(notificationTitle(request), {
    body: [request.title, request.message].filter((text) => text).join('\n'),
    tag: request.invitationID,
    data: { invitationID: request.invitationID, resourceID: request.resourceID },
  });
  return () => notification.close();
}

/** "alice is calling", or "alice (Alice Liddell) is calling": the verified id always comes first. */
export function notificationTitle({ inviter }: Pick<NotificationRequest, 'inviter'>): string {
  const name = inviter.name.trim();
  return name && name !== inviter.id ? `${inviter.id} (${name}) is calling` : `${inviter.id} is calling`;
}
