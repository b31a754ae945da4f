//! Application state in the builder's type map: one value per type.
//!
//! The low-level path. A `#[ws_endpoint]` handler takes its state as a
//! typed parameter, given by the spec's `Handlers::with_state`, so a
//! missing state is a build error (see [`Provides`](crate::Provides)).
//! Handlers registered with [`Builder::handler`](crate::Builder::handler)
//! take only a [`Session`](crate::Session), and reach the application's
//! objects through this map: open to any number of values without a type
//! parameter on every server and session type, at one reference count per
//! connection, but a value the server was not given is only noticed when a
//! client connects.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;

/// Values by type, set once on the builder and read by every session.
#[derive(Default)]
pub(crate) struct AppState {
    values: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl AppState {
    /// Stores `value`, replacing any earlier value of its type.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.values.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// The value of type `T`, if one was stored.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.values.get(&TypeId::of::<T>())?.downcast_ref::<T>()
    }
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("values", &self.values.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::AppState;

    #[test]
    fn one_value_per_type() {
        let mut state = AppState::default();
        assert_eq!(state.get::<u32>(), None);
        state.insert(1u32);
        state.insert(String::from("hub"));
        state.insert(2u32);
        assert_eq!(state.get::<u32>(), Some(&2));
        assert_eq!(state.get::<String>().map(String::as_str), Some("hub"));
        assert_eq!(state.get::<u64>(), None);
    }
}
