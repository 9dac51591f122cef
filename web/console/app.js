// The examgate console: dual login (examiner + invigilator) with an idle
// lock, the live seat map with each seat's candidate, the ID card read at
// the console (login mode a), the examiner's decisions with the evidence
// (roster photo, attempts, verification snapshots), alerts, the day's
// roster and its import, and waiting PCs (approve, rebind); in Simplified
// Chinese or English. Plain ES modules (lib/), no build step. Everything a
// PC, a roster or the server reports goes in as text, never as HTML.

import { $ } from "./lib/dom.js";
import { allLanguages, choose, current, loadLanguages, onLanguageChange, preferredCode, use } from "./lib/i18n.js";
import { afterEachAction } from "./lib/actions.js";
import { rerenderCard } from "./lib/card.js";
import { rerenderEvidence } from "./lib/evidence.js";
import { loadExam, rerenderExam, watchExam } from "./lib/exam.js";
import { listen, refresh, rerenderMap, stopListening, whenSessionGone } from "./lib/live.js";
import { installRoster, loadRoster, rerenderRoster } from "./lib/roster.js";
import { installSession, renderSession, start } from "./lib/session.js";

/** The header's language switch: one button per language, named in that language. */
function installLanguageSwitch() {
  const group = $("#languages");
  for (const language of allLanguages()) {
    const button = document.createElement("button");
    button.type = "button";
    button.lang = language.code;
    button.dataset.lang = language.code;
    button.textContent = language.name;
    button.addEventListener("click", () => choose(language.code));
    group.append(button);
  }
  onLanguageChange(() => {
    for (const b of group.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.lang === current().code));
  });
}

async function main() {
  await loadLanguages();
  installLanguageSwitch();
  onLanguageChange(() => {
    renderSession();
    rerenderMap();
    rerenderCard();
    rerenderRoster();
    rerenderEvidence();
    rerenderExam();
  });
  use(preferredCode());
  installRoster();
  afterEachAction(() => Promise.all([refresh(), loadRoster()]));
  whenSessionGone(start);
  installSession(
    async () => {
      await Promise.all([refresh(), loadRoster(), loadExam()]);
      listen();
      watchExam();
    },
    stopListening,
  );
  document.documentElement.dataset.ready = "true";
  await start();
}

main();
