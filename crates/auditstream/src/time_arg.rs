//! Times on the command line: RFC 3339 (`2026-11-22T10:00:00Z`) or a duration ago (`2h`).

/// Epoch milliseconds of `arg`, given the current time.
pub fn parse_time_ms(arg: &str, now_ms: i64) -> Result<i64, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(arg) {
        let since = t
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?;
        return Ok(since.as_millis() as i64);
    }
    match humantime::parse_duration(arg) {
        Ok(ago) => Ok(now_ms - ago.as_millis() as i64),
        Err(_) => Err(format!(
            "`{arg}` is neither an RFC 3339 time nor a duration ago like `2h`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_relative() {
        assert_eq!(parse_time_ms("1970-01-01T00:00:01Z", 0), Ok(1000));
        assert_eq!(parse_time_ms("2h", 10_000_000), Ok(10_000_000 - 7_200_000));
        assert!(parse_time_ms("yesterday-ish", 0).is_err());
    }
}
