//! `include_client!`: the same Rust client as the checked-in
//! `generated/prsm/client.rs`, generated in place from the spec, against the
//! running prsm example.

use crate::support::events::{close, message, opened};
use crate::support::examples::start_prsm;
use crate::support::tokens::PRSM;

/// prsm's client, generated here at compile time.
mod prsm_client {
    wsauth_core::include_client!("../specs/prsm.yaml");
}

use prsm_client::endpoints::conversation;

#[tokio::test]
async fn the_client_generated_in_place_talks_to_prsm() {
    let prsm = start_prsm(|c| c, axum::Router::new()).await;
    let params = conversation::Params {
        user_id: "alice".to_owned(),
        conversation_id: 1,
    };
    let token = PRSM.token("alice", &["user"], 600);
    let mut client = conversation::connect(&prsm.ws_url(), params, token)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    opened(&mut client, 0).await;
    let welcome = message(&mut client).await;
    assert!(
        matches!(&welcome, conversation::ServerMessage::Connected(c) if c.user_id == "alice"),
        "{welcome:?}"
    );
    client
        .send(prsm_client::messages::Typing {
            user_id: "alice".to_owned(),
            active: true,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        message(&mut client).await,
        conversation::ServerMessage::Typing(_)
    ));
    close(client).await;
}

#[test]
fn it_is_the_checked_in_client() {
    // The same descriptor as the golden's (the spec's close codes, roles
    // and endpoints), and the same close-code catalogue.
    assert_eq!(
        format!("{:?}", prsm_client::API),
        format!("{:?}", wsauth_generated::prsm::API)
    );
    assert_eq!(
        format!("{:?}", prsm_client::CloseCode::ALL),
        format!("{:?}", wsauth_generated::prsm::CloseCode::ALL)
    );
}
