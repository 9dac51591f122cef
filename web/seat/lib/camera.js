// The photo step's live picture: one frame from GET /v1/camera/preview
// (expected: a JPEG, `image/jpeg`) after another while the step is shown.
// When the agent has no such route or no camera, `onUnavailable` is called
// once and the page goes on without a picture: the examiner checks the face.

const INTERVAL_MS = 400;

/** Show frames in `img` until the returned `stop()` is called. */
export function startPreview(img, { onUnavailable }) {
  let stopped = false;
  let shown = null;
  const show = (blob) => {
    const url = URL.createObjectURL(blob);
    img.src = url;
    img.hidden = false;
    if (shown) URL.revokeObjectURL(shown);
    shown = url;
  };
  const next = async () => {
    if (stopped) return;
    let response;
    try {
      response = await fetch("/v1/camera/preview", { cache: "no-store" });
    } catch {
      response = null;
    }
    if (stopped) return;
    const type = response?.headers.get("content-type") ?? "";
    if (!response?.ok || !type.startsWith("image/")) {
      img.hidden = true;
      onUnavailable();
      return;
    }
    show(await response.blob());
    setTimeout(next, INTERVAL_MS);
  };
  next();
  return () => {
    stopped = true;
    if (shown) URL.revokeObjectURL(shown);
    shown = null;
  };
}
