/** The default `notify`: a system notification while the page is in the background. */
import type { NotificationRequest } from './types.js';

export function showSystemNotification(request: NotificationRequest): (() => void) | void {
  if (typeof document === 'undefined' || document.visibilityState !== 'hidden') return;
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  const notification = new Notification(request.title ?? `${request.inviter.name || request.inviter.id} is calling`, {
    body: request.message ?? '',
    tag: request.invitationID,
    data: { invitationID: request.invitationID, resourceID: request.resourceID },
  });
  return () => notification.close();
}
