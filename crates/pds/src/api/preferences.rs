//! app.bsky.actor.getPreferences / putPreferences: the account's app preferences, which the
//! PDS keeps itself (clients read them at start-up; they are never proxied).
//!
//! As in the reference: only preferences in the `app.bsky` namespace are accepted and
//! returned; a put replaces them all; `app.bsky.actor.defs#personalDetailsPref` (birth date)
//! is neither shown to nor settable by an app-password session, and such a session's put
//! leaves it as it was.

use aerie_store::pref;
use aerie_xrpc::{AccessAuth, Json, XrpcError};
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use crate::AppState;
use crate::error::store_error;

/// The namespace this PDS stores preferences for.
const NAMESPACE: &str = "app.bsky";

/// Preferences only a full-access session may read or write.
const FULL_ACCESS_ONLY: &[&str] = &["app.bsky.actor.defs#personalDetailsPref"];

fn in_namespace(name: &str) -> bool {
    name == NAMESPACE
        || name
            .strip_prefix(NAMESPACE)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn allowed(name: &str, auth: &AccessAuth) -> bool {
    auth.is_full_access() || !FULL_ACCESS_ONLY.contains(&name)
}

/// app.bsky.actor.getPreferences
pub async fn get_preferences(
    State(st): State<AppState>,
    auth: AccessAuth,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    let did = auth.did.clone();
    let stored = st
        .store()
        .read(move |c| pref::list(c, &did))
        .await
        .map_err(store_error)?;
    let mut preferences = Vec::with_capacity(stored.len());
    for (name, text) in stored {
        if in_namespace(&name) && allowed(&name, &auth) {
            preferences.push(serde_json::from_str::<JsonValue>(&text).map_err(|e| {
                XrpcError::internal(format!("stored preference {name} of {}: {e}", auth.did))
            })?);
        }
    }
    Ok(axum::Json(json!({ "preferences": preferences })))
}

#[derive(Deserialize)]
pub struct PutPreferencesInput {
    preferences: Vec<JsonValue>,
}

/// app.bsky.actor.putPreferences
pub async fn put_preferences(
    State(st): State<AppState>,
    auth: AccessAuth,
    Json(input): Json<PutPreferencesInput>,
) -> Result<(), XrpcError> {
    let mut put = Vec::with_capacity(input.preferences.len());
    for p in &input.preferences {
        let Some(name) = p.as_object().and_then(|o| o.get("$type")?.as_str()) else {
            return Err(XrpcError::invalid_request("Preference is missing a $type"));
        };
        if !in_namespace(name) {
            return Err(XrpcError::invalid_request(format!(
                "Some preferences are not in the {NAMESPACE} namespace"
            )));
        }
        if !allowed(name, &auth) {
            return Err(XrpcError::invalid_request(
                "Do not have authorization to set preferences.",
            ));
        }
        put.push((name.to_owned(), p.to_string()));
    }
    let did = auth.did.clone();
    let full = auth.is_full_access();
    st.store()
        .write(move |tx| -> Result<(), aerie_store::StoreError> {
            // A session that may not see some preferences keeps them as they were.
            let mut all = put;
            if !full {
                let kept = pref::list(tx, &did)?
                    .into_iter()
                    .filter(|(name, _)| FULL_ACCESS_ONLY.contains(&name.as_str()));
                all.extend(kept);
            }
            pref::replace(tx, &did, &all)
        })
        .await
        .map_err(store_error)
}

#[cfg(test)]
mod tests {
    use super::in_namespace;

    #[test]
    fn the_namespace_is_app_bsky_and_its_children_only() {
        assert!(in_namespace("app.bsky.actor.defs#adultContentPref"));
        assert!(in_namespace("app.bsky"));
        assert!(!in_namespace("app.bskyx.pref"));
        assert!(!in_namespace("com.example.pref"));
        assert!(!in_namespace(""));
    }
}
