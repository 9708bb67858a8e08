//! Helpers of the console's browser test.
pub mod webdriver;
