/** The Call panel: the other side's video (for a voice call, only its sound), yours, a status line and Hang up. */

export interface CallPanelElements {
  panel: HTMLElement;
  status: HTMLElement;
  remoteVideo: HTMLVideoElement;
  remoteCaption: HTMLElement;
  localVideo: HTMLVideoElement;
}

export class CallPanel {
  constructor(private readonly elements: CallPanelElements) {}

  /** Shows the panel for a call with `other`; a call of any type but video (1) shows no pictures. */
  open(other: string, video: boolean, status: string): void {
    const { panel, remoteCaption } = this.elements;
    panel.dataset.video = String(video);
    remoteCaption.textContent = other;
    this.status(status);
    panel.hidden = false;
    panel.scrollIntoView({ block: 'nearest' });
  }

  status(text: string): void {
    this.elements.status.textContent = text;
  }

  showLocal(stream: MediaStream): void {
    this.elements.localVideo.srcObject = stream;
  }

  showRemote(stream: MediaStream): void {
    this.elements.remoteVideo.srcObject = stream;
  }

  close(): void {
    const { panel, remoteVideo, localVideo } = this.elements;
    panel.hidden = true;
    remoteVideo.srcObject = localVideo.srcObject = null;
    this.status('');
  }
}
