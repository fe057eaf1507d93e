//! Reset links: issuing, redeeming, temporary passwords.
