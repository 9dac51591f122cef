//! `POST /v1/idcard/read`: wait for a card and read it.

use std::time::Duration;

use base64::Engine as _;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use examgate_device_sdk::DeviceError;
use examgate_protocol::idcard::{IdCard, IdCardRequest};

use super::{AppState, parse_json_or_default};
use crate::error::AppError;
use crate::idcard;

/// Longest wait for a card a caller may ask for.
const MAX_CARD_TIMEOUT: Duration = Duration::from_secs(600);

pub(super) async fn read(State(state): State<AppState>, body: Bytes) -> Result<Json<IdCard>, AppError> {
    let request: IdCardRequest = parse_json_or_default(&body)?;
    let timeout = match request.timeout_ms {
        None => state.0.capture_timeout,
        Some(ms) if ms > 0 && Duration::from_millis(ms) <= MAX_CARD_TIMEOUT => Duration::from_millis(ms),
        Some(ms) => return Err(AppError::BadRequest(format!("timeout_ms = {ms} is outside 1..=600000"))),
    };
    let (device, selector, read) = state.devices().read_card(request.device.as_deref(), timeout).await?;
    let card = idcard::decode(&read, idcard::card_source(&selector, &read)).map_err(|e| {
        AppError::Device(DeviceError::Protocol(format!(
            "{device} gave a card record that does not parse ({e}); take the card off and try again"
        )))
    })?;
    tracing::info!(device, card = %idcard::log_tag(&card), "card read");
    let mut json = idcard::to_json(&card);
    if let Some(decoder) = state.wlt_decoder()
        && !card.photo_wlt.is_empty()
    {
        let (decoder, wlt) = (decoder.to_owned(), card.photo_wlt.clone());
        let decoded = tokio::task::spawn_blocking(move || {
            crate::photo::decode_in_child(&decoder, &wlt, crate::photo::DECODE_TIMEOUT)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match decoded {
            Ok(jpeg) => json.photo_jpeg = Some(base64::engine::general_purpose::STANDARD.encode(jpeg)),
            // The card read stands; only the picture is missing.
            Err(why) => {
                tracing::warn!(device, %why, "the WLT photo decoder failed; the card is reported without a picture")
            }
        }
    }
    Ok(Json(json))
}
