//! Armor Policy v2 evaluation (work in progress).
