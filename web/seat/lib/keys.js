// Keeping the candidate on the page: the shortcuts that would leave it,
// reload it or open browser tools are cancelled, and leaving full screen
// brings up a prompt to return. A page cannot block everything (Ctrl+W,
// Ctrl+T, Ctrl+N, Alt+F4, Ctrl+Alt+Del belong to the browser or the OS):
// the kiosk flags and OS lock-down in the README cover those.

const editable = (target) =>
  target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target?.isContentEditable;

/** Whether `event` is a shortcut that leaves, reloads or escapes the page. */
export function isBlocked(event) {
  const key = event.key;
  const lower = key.length === 1 ? key.toLowerCase() : key;
  const ctrl = event.ctrlKey || event.metaKey;
  if (["F1", "F3", "F5", "F6", "F7", "F10", "F11", "F12", "BrowserBack", "BrowserForward",
       "BrowserRefresh", "BrowserHome", "BrowserSearch", "ContextMenu"].includes(key)) return true;
  if (event.altKey && ["ArrowLeft", "ArrowRight", "Home", "d", "e", "f"].includes(lower)) return true;
  if (ctrl && "rwtnqpsoufghjdlk+-=0[]".includes(lower) && lower.length === 1) return true;
  if (ctrl && ["F4", "F5", "Tab", "PageUp", "PageDown"].includes(key)) return true;
  if (ctrl && event.shiftKey && ["i", "j", "c", "delete"].includes(lower.toLowerCase())) return true;
  if (key === "Backspace" && !editable(event.target)) return true;
  return false;
}

/**
 * Cancel blocked shortcuts, the context menu, Ctrl+wheel and pinch zoom,
 * drag-and-drop (a dropped link would navigate) and Back; ask before the
 * page is closed. `onBlocked(event)` is called for each blocked key.
 */
export function blockShortcuts({ onBlocked }) {
  window.addEventListener("keydown", (event) => {
    if (!isBlocked(event)) return;
    event.preventDefault();
    event.stopPropagation();
    onBlocked(event);
  }, { capture: true });
  window.addEventListener("contextmenu", (event) => event.preventDefault(), { capture: true });
  window.addEventListener("wheel", (event) => {
    if (event.ctrlKey) event.preventDefault();
  }, { capture: true, passive: false });
  for (const type of ["dragstart", "dragover", "drop"]) {
    window.addEventListener(type, (event) => event.preventDefault(), { capture: true });
  }
  // Back (a mouse button, a gesture, Alt+Left the browser saw first) lands on
  // the entry pushed here and is pushed again.
  history.pushState({ seat: true }, "", location.href);
  window.addEventListener("popstate", () => history.pushState({ seat: true }, "", location.href));
  window.addEventListener("beforeunload", (event) => {
    event.preventDefault();
    event.returnValue = "";
  });
}

const browserFullscreen = matchMedia("(display-mode: fullscreen)");

/** Whether the page fills the screen: element full screen, kiosk or F11. */
export const isFullscreen = () => document.fullscreenElement !== null || browserFullscreen.matches;

/** Enter full screen (needs a key press or click) and hold Escape and system keys where the browser lets us. */
export async function enterFullscreen() {
  if (!document.fullscreenElement) {
    try {
      await document.documentElement.requestFullscreen({ navigationUI: "hide" });
    } catch {
      return; // no user gesture, or not allowed: the kiosk flags are the fallback
    }
  }
  // Keyboard Lock: in full screen, Escape must be held to leave and the
  // system shortcuts the OS allows reach the page instead.
  await navigator.keyboard?.lock?.().catch(() => {});
}

/**
 * Call `onLost()` when the page leaves full screen after having been in it,
 * and `onBack()` when it is full screen again.
 */
export function watchFullscreen({ onLost, onBack }) {
  let was = isFullscreen();
  const check = () => {
    const now = isFullscreen();
    if (was && !now) onLost();
    if (!was && now) onBack();
    was = now;
  };
  document.addEventListener("fullscreenchange", check);
  browserFullscreen.addEventListener("change", check);
}
