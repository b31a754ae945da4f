//! Application state for handlers: one value per type.
//!
//! Handlers are plain functions of their session (that is what lets the
//! proc-macro check them against the spec), so the application's own
//! objects (a store, a broadcast hub) reach them through the session. A
//! type map keeps that open to any number of values without a type
//! parameter on every server and session type; the cost per connection is
//! one reference count.

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
