import { expect } from '@esm-bundle/chai';
import { notificationText, showSystemNotification } from '../../src/session/notifications.js';
import type { NotificationRequest } from '../../src/api/options.js';

const forged: NotificationRequest = {
  invitationID: 'mallory:1',
  inviter: { id: 'mallory', name: 'Your bank' },
  type: 0,
  data: '',
  title: 'Your bank is calling',
  message: 'Urgent: pick up',
};

describe('the default notification', () => {
  it('titles it with the verified inviter id first, the claimed name only beside it, and puts what the sender wrote in the body', () => {
    expect(notificationText(forged)).to.deep.equal({ title: 'mallory (Your bank) is calling', body: 'Your bank is calling\nUrgent: pick up' });
    expect(notificationText({ ...forged, inviter: { id: 'alice', name: '' }, title: undefined, message: undefined })).to.deep.equal({ title: 'alice is calling', body: '' });
    expect(notificationText({ ...forged, inviter: { id: 'alice', name: 'alice' } }).title).to.equal('alice is calling');
  });

  it('shows that text in a system notification when the page is hidden', () => {
    const shown: { title: string; options: NotificationOptions | undefined }[] = [];
    class RecordingNotification {
      static readonly permission = 'granted';
      constructor(title: string, options?: NotificationOptions) {
        shown.push({ title, options });
      }
      close(): void {}
    }
    const original = Object.getOwnPropertyDescriptor(window, 'Notification');
    Object.defineProperty(window, 'Notification', { value: RecordingNotification, configurable: true, writable: true });
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    try {
      // As the plugin hands it over: the safe title, the sender's words as the message.
      const { title, body } = notificationText(forged);
      const close = showSystemNotification({ ...forged, title, message: body });
      expect(close).to.be.a('function');
      expect(shown.map(({ title, options }) => [title, options?.body, options?.tag])).to.deep.equal([['mallory (Your bank) is calling', 'Your bank is calling\nUrgent: pick up', 'mallory:1']]);
    } finally {
      delete (document as { visibilityState?: unknown }).visibilityState;
      if (original) Object.defineProperty(window, 'Notification', original);
    }
  });
});
