//! Empty: the models are in tests/loom_models.rs.
