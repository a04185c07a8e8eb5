// The audio player: a bar at the bottom of the page that plays a folder's audio files as a playlist
// (previous/next, auto-advance, play/pause, a seek bar with the time), shows each song's tags when the
// listing has them (the file name otherwise), and hands the same controls to the Media Session API
// (lock screen, headset buttons). It lives outside the listing, so browsing other folders (browse.js
// does that without reloading the page) does not stop it.
import { formatDuration, icon } from "./rows.js";
import { element, iconButton } from "./dom.js";

// Title, artist and album of a track: its tags, or the file name without its extension.
function describe(track) {
  const tags = track.tags || {};
  return {
    title: tags.title || track.name.replace(/\.[^.]+$/, ""),
    artist: tags.artist || "",
    album: tags.album || "",
  };
}

export class Player {
  constructor() {
    this.tracks = [];
    this.index = -1;
    this.audio = element("audio", { id: "player-audio", preload: "auto" });
    this.prevButton = iconButton("player-prev", "Previous track", "prev");
    this.playButton = iconButton("player-play", "Play", "play");
    this.nextButton = iconButton("player-next", "Next track", "next");
    this.closeButton = iconButton("player-close", "Stop and close the player", "close");
    this.title = element("span", { className: "player-title" });
    this.meta = element("span", { className: "player-meta" });
    this.seek = element("input", { type: "range", className: "player-seek", min: 0, max: 0, step: "any", value: 0 });
    this.seek.setAttribute("aria-label", "Position");
    this.time = element("span", { className: "player-time", textContent: "0:00" });
    this.root = element("section", { className: "player", id: "player", hidden: true },
                        this.audio,
                        element("div", { className: "player-row" }, this.prevButton, this.playButton, this.nextButton,
                                element("div", { className: "player-info" }, this.title, this.meta), this.closeButton),
                        element("div", { className: "player-row" }, this.seek, this.time));
    this.root.setAttribute("aria-label", "Audio player");
    document.body.append(this.root);

    this.prevButton.addEventListener("click", () => this.previous());
    this.nextButton.addEventListener("click", () => this.next());
    this.playButton.addEventListener("click", () => (this.audio.paused ? this.audio.play() : this.audio.pause()));
    this.closeButton.addEventListener("click", () => this.stop());
    this.seek.addEventListener("input", () => { this.audio.currentTime = Number(this.seek.value); });
    this.audio.addEventListener("ended", () => this.next());
    // A format this browser cannot play (.wma, .mid...) says so instead of the artist and album.
    this.audio.addEventListener("error", () => {
      if (this.audio.getAttribute("src")) this.meta.textContent = "This browser cannot play this file.";
    });
    this.audio.addEventListener("timeupdate", () => this.showTime());
    this.audio.addEventListener("durationchange", () => this.showTime());
    for (const type of ["play", "pause"]) this.audio.addEventListener(type, () => this.showState());
    this.setUpMediaSession();
  }

  // Play `tracks` ([{name, url, tags?}]) from the one at `index`.
  playList(tracks, index) {
    this.tracks = tracks;
    this.playAt(index);
  }

  playAt(index) {
    if (index < 0 || index >= this.tracks.length) return;
    this.index = index;
    const track = this.tracks[index];
    const { title, artist, album } = describe(track);
    this.audio.src = track.url;
    this.title.textContent = title;
    this.meta.textContent = [artist, album].filter(Boolean).join(" - ");
    this.root.hidden = false;
    document.body.classList.add("has-player");
    this.nextButton.disabled = index === this.tracks.length - 1;
    if ("mediaSession" in navigator) navigator.mediaSession.metadata = new MediaMetadata({ title, artist, album });
    this.audio.play().catch(() => this.showState());   // a refused autoplay leaves the Play button to press
  }

  // The previous track, or the start of this one when it has played for a few seconds (as players do).
  previous() {
    if (this.audio.currentTime > 3 || this.index === 0) this.audio.currentTime = 0;
    else this.playAt(this.index - 1);
  }

  // The next track; after the last one the player stops there.
  next() {
    if (this.index < this.tracks.length - 1) this.playAt(this.index + 1);
    else this.audio.pause();
  }

  stop() {
    this.audio.pause();
    this.audio.removeAttribute("src");
    this.audio.load();
    this.root.hidden = true;
    document.body.classList.remove("has-player");
    if ("mediaSession" in navigator) navigator.mediaSession.metadata = null;
  }

  showState() {
    const paused = this.audio.paused;
    this.playButton.replaceChildren(icon(paused ? "play" : "pause"));
    this.playButton.setAttribute("aria-label", paused ? "Play" : "Pause");
    this.playButton.title = paused ? "Play" : "Pause";
    if ("mediaSession" in navigator) navigator.mediaSession.playbackState = paused ? "paused" : "playing";
  }

  showTime() {
    const { currentTime, duration } = this.audio;
    const known = Number.isFinite(duration);
    this.seek.max = known ? duration : 0;
    this.seek.value = currentTime;
    this.time.textContent = known ? `${formatDuration(currentTime)} / ${formatDuration(duration)}` : formatDuration(currentTime);
    if (known && "mediaSession" in navigator && navigator.mediaSession.setPositionState) {
      navigator.mediaSession.setPositionState({ duration, position: Math.min(currentTime, duration),
                                                playbackRate: this.audio.playbackRate });
    }
  }

  setUpMediaSession() {
    if (!("mediaSession" in navigator)) return;
    const handlers = {
      play: () => this.audio.play(),
      pause: () => this.audio.pause(),
      previoustrack: () => this.previous(),
      nexttrack: () => this.next(),
      seekto: (details) => { this.audio.currentTime = details.seekTime; },
    };
    for (const [action, handler] of Object.entries(handlers)) {
      try {
        navigator.mediaSession.setActionHandler(action, handler);
      } catch { /* an action this browser does not know */ }
    }
  }
}
