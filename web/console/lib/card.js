// The ID card read at the console (login mode a): the verdict and the seat
// assigned, the problems found, the card's photo beside the roster's, and
// the card's fields. The card's data is shown as the card holds it.

import { $, el } from "./dom.js";
import { t, tNodes, tOr } from "./i18n.js";
import { enc } from "./api.js";

/** The last card_read event, redrawn on a change of language. */
let shown = null;

/** The card's fields in the order of the card, by their names in the card JSON. */
const FIELDS = ["name", "english_name", "sex", "nation", "birth_date", "id_number", "address", "issuer", "valid"];

function fieldValue(card, field) {
  if (field === "sex" || field === "nation") return card[field]?.label;
  if (field !== "valid") return card[field];
  if (card.valid_until === null && card.valid_from) return t("card.long_term", { from: card.valid_from });
  return [card.valid_from, card.valid_until].filter(Boolean).join(" – ");
}

function verdict(check, card) {
  if (check.accepted && check.seat) {
    return tNodes("card.assigned", {
      seat: el("strong", { id: "card-seat", "data-seat": check.seat }, check.seat),
      name: el("bdi", {}, check.name ?? card.name ?? t("card.the_candidate")),
      booking: check.booking_number ?? "?",
    });
  }
  return [el("strong", {}, t("card.not_accepted")), " ", check.seat ? t("card.holds_seat", { seat: check.seat }) : t("card.no_seat")];
}

function showPhotos(ev, check, card) {
  const cardPhoto = $("#card-photo");
  cardPhoto.hidden = !card.photo_jpeg;
  if (card.photo_jpeg) cardPhoto.src = `data:image/jpeg;base64,${card.photo_jpeg}`;
  else cardPhoto.removeAttribute("src");
  $("#card-no-photo").hidden = !!card.photo_jpeg;
  const rosterUrl = ev.photo_url ?? (check.booking_number ? `/api/v1/roster/${enc(check.booking_number)}/photo` : null);
  const rosterPhoto = $("#roster-photo");
  rosterPhoto.hidden = !rosterUrl;
  $("#roster-no-photo").hidden = !!rosterUrl;
  if (rosterUrl) {
    rosterPhoto.onerror = () => {
      rosterPhoto.hidden = true;
      $("#roster-no-photo").hidden = false;
    };
    if (rosterPhoto.getAttribute("src") !== rosterUrl) rosterPhoto.src = rosterUrl;
  } else rosterPhoto.removeAttribute("src");
}

/** Show a card_read event (`{card, check, photo_url}`) and bring it into view. */
export function renderCard(ev) {
  draw(ev);
  $("#card-panel").scrollIntoView({ block: "nearest" });
}

/** Redraw the last card in the current language. */
export function rerenderCard() {
  if (shown) draw(shown);
}

function draw(ev) {
  shown = ev;
  const check = ev.check ?? {};
  const card = ev.card ?? {};
  const panel = $("#card-panel");
  panel.hidden = false;
  panel.dataset.accepted = String(!!check.accepted);
  panel.dataset.booking = check.booking_number ?? "";
  $("#card-verdict").replaceChildren(...verdict(check, card));
  $("#card-problems").replaceChildren(...(check.problems ?? []).map((p) => el("li", { "data-problem": p }, tOr(`problem.${p}`, p))));
  showPhotos(ev, check, card);
  const rows = FIELDS.map((f) => [f, fieldValue(card, f)]).filter(([, v]) => v);
  $("#card-fields").replaceChildren(...rows.flatMap(([f, v]) => [el("dt", {}, t(`field.${f}`)), el("dd", { "data-field": f }, v)]));
}
