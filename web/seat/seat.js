// The seat page: devices and their state, live from /v1/events, and a
// capture button. Plain ES module, no build step; talks only to the agent
// that served it. Templates stay in memory and are never shown.

const $ = (id) => document.getElementById(id);

/** Devices by id, as /v1/devices lists them, plus whether a finger is on. */
const devices = new Map();
/** The last two captures, for "compare". */
let latest = null;
let previous = null;

async function api(path, body) {
  const options = body === undefined
    ? {}
    : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    throw new Error(data?.error?.message ?? `${response.status} ${response.statusText}`);
  }
  return data;
}

const STATE_TEXT = {
  ready: "ready",
  busy: "busy",
  disabled: "disabled",
  disconnected: "disconnected",
};

function render() {
  const list = $("devices");
  list.replaceChildren();
  for (const d of devices.values()) {
    const item = document.createElement("li");
    item.className = `device ${d.state}`;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = d.name;
    const id = document.createElement("code");
    id.textContent = d.id;
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = STATE_TEXT[d.state] ?? d.state;
    item.append(name, " ", id, " ", state);
    if (d.finger) {
      const finger = document.createElement("span");
      finger.className = "finger";
      finger.textContent = "finger on the sensor";
      item.append(" ", finger);
    }
    list.append(item);
  }
  $("no-devices").hidden = devices.size > 0;
}

async function loadDevices() {
  try {
    const { devices: list } = await api("/v1/devices");
    const fingers = new Map([...devices].map(([id, d]) => [id, d.finger]));
    devices.clear();
    for (const d of list) devices.set(d.id, { ...d, finger: fingers.get(d.id) ?? false });
    render();
  } catch (e) {
    showResult(`Cannot list devices: ${e.message}`, "error");
  }
}

function apply(event) {
  const d = devices.get(event.device);
  if (!d) {
    loadDevices();
    return;
  }
  switch (event.type) {
    case "device_attached": d.state = "ready"; break;
    case "device_detached": d.state = "disconnected"; d.finger = false; break;
    case "finger_placed": d.finger = true; break;
    case "finger_lifted": d.finger = false; break;
    default: return;
  }
  render();
}

function setLink(online) {
  const link = $("link");
  link.textContent = online ? "agent connected" : "agent not reachable, retrying…";
  link.className = `link ${online ? "online" : "offline"}`;
}

function connect(attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/v1/events`);
  socket.addEventListener("open", () => {
    attempt = 0;
    setLink(true);
    loadDevices();
  });
  socket.addEventListener("message", (m) => {
    try {
      apply(JSON.parse(m.data));
    } catch {
      // Not an event this page knows; ignore it.
    }
  });
  socket.addEventListener("close", () => {
    setLink(false);
    setTimeout(() => connect(attempt + 1), Math.min(5000, 250 * 2 ** attempt));
  });
}

function showResult(text, kind = "info") {
  const result = $("result");
  result.textContent = text;
  result.className = `result ${kind}`;
}

async function capture() {
  const button = $("capture");
  button.disabled = true;
  showResult("Place your finger on the reader…");
  try {
    const t = await api("/v1/fingerprint/template", {});
    previous = latest;
    latest = t.template;
    showResult(`Captured a ${t.format} template on ${t.device} (quality ${t.quality}).`, "ok");
  } catch (e) {
    showResult(e.message, "error");
  } finally {
    button.disabled = false;
    $("compare").disabled = previous === null;
  }
}

async function compare() {
  try {
    const m = await api("/v1/fingerprint/match", { template: latest, enrolled: previous });
    showResult(`Score ${m.score}: ${m.match ? "the same finger" : "not the same finger"}.`, m.match ? "ok" : "error");
  } catch (e) {
    showResult(e.message, "error");
  }
}

$("capture").addEventListener("click", capture);
$("compare").addEventListener("click", compare);
connect();
