//! Login mode (a): the seat the server gives a candidate whose card the
//! examiner read. Uniformly at random among the free seats, preferring those
//! whose agent is online, so a candidate is not sent to a dead PC.

/// A seat that could take the candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeSeat {
    pub seat: String,
    pub key_id: String,
    pub online: bool,
}

/// Picks one of `free` using `random`: among the online ones if there are any, else among all.
pub fn pick(free: &[FreeSeat], random: u64) -> Option<&FreeSeat> {
    let online: Vec<&FreeSeat> = free.iter().filter(|s| s.online).collect();
    let pool: Vec<&FreeSeat> = if online.is_empty() { free.iter().collect() } else { online };
    if pool.is_empty() {
        return None;
    }
    // Modulo bias is below 1e-17 for any real number of seats.
    let i = (random % pool.len() as u64) as usize;
    Some(pool[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(n: &str, online: bool) -> FreeSeat {
        FreeSeat { seat: n.into(), key_id: format!("k{n}"), online }
    }

    #[test]
    fn an_online_seat_is_preferred_and_every_one_can_be_picked() {
        let free = [seat("1", false), seat("2", true), seat("3", true)];
        let picked: std::collections::BTreeSet<&str> = (0..10).map(|r| pick(&free, r).unwrap().seat.as_str()).collect();
        assert_eq!(picked.into_iter().collect::<Vec<_>>(), ["2", "3"]);
    }

    #[test]
    fn offline_seats_are_used_when_none_is_online_and_none_means_none() {
        let free = [seat("1", false), seat("2", false)];
        assert!(pick(&free, 7).is_some());
        assert_eq!(pick(&[], 7), None);
    }
}
