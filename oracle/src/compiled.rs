//! Label selectors and ipBlocks compiled into the oracle's own flat forms. The oracle matches
//! with these, not with the spec's code, so that a bug in either shows up as a disagreement.

use netsem_spec::policy::IpBlock;
use netsem_spec::{LabelSelector, Labels, Operator};
use std::net::IpAddr;

/// A selector as a flat list of requirements (rules 4.1–4.3).
#[derive(Clone, Debug, Default)]
pub(crate) struct Selector {
    reqs: Vec<(String, Op, Vec<String>)>,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Equals,
    In,
    NotIn,
    Exists,
    Absent,
}

impl Selector {
    pub fn compile(s: &LabelSelector) -> Self {
        let mut reqs: Vec<(String, Op, Vec<String>)> = s
            .match_labels
            .iter()
            .map(|(k, v)| (k.clone(), Op::Equals, vec![v.clone()]))
            .collect();
        for r in &s.match_expressions {
            let op = match r.operator {
                Operator::In => Op::In,
                Operator::NotIn => Op::NotIn,
                Operator::Exists => Op::Exists,
                Operator::DoesNotExist => Op::Absent,
            };
            reqs.push((r.key.clone(), op, r.values.iter().cloned().collect()));
        }
        Selector { reqs }
    }

    /// A label every matching pod has, with the values it may take: the first `Equals` or
    /// `In` requirement. `None` when the selector requires no value.
    pub fn required(&self) -> Option<(&str, &[String])> {
        self.reqs.iter().find_map(|(k, op, values)| match op {
            Op::Equals | Op::In => Some((k.as_str(), values.as_slice())),
            _ => None,
        })
    }

    #[inline]
    pub fn matches(&self, labels: &Labels) -> bool {
        self.reqs.iter().all(|(k, op, values)| {
            let v = labels.get(k);
            match op {
                Op::Equals => v == values.first(),
                Op::In => v.is_some_and(|v| values.contains(v)),
                Op::NotIn => v.is_none_or(|v| !values.contains(v)),
                Op::Exists => v.is_some(),
                Op::Absent => v.is_none(),
            }
        })
    }
}

/// An ipBlock as bit masks: the block, and its holes (rule 5.12).
#[derive(Clone, Debug)]
pub(crate) struct Block {
    net: Prefix,
    except: Vec<Prefix>,
}

#[derive(Clone, Copy, Debug)]
enum Prefix {
    V4(u32, u32),
    V6(u128, u128),
}

impl Prefix {
    fn of(net: &ipnet::IpNet) -> Prefix {
        match net {
            ipnet::IpNet::V4(n) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(n.prefix_len()))
                    .unwrap_or(0);
                Prefix::V4(u32::from(n.network()) & mask, mask)
            }
            ipnet::IpNet::V6(n) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(n.prefix_len()))
                    .unwrap_or(0);
                Prefix::V6(u128::from(n.network()) & mask, mask)
            }
        }
    }

    #[inline]
    fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Prefix::V4(net, mask), IpAddr::V4(a)) => u32::from(a) & mask == *net,
            (Prefix::V6(net, mask), IpAddr::V6(a)) => u128::from(a) & mask == *net,
            _ => false,
        }
    }
}

impl Block {
    pub fn compile(b: &IpBlock) -> Self {
        Block {
            net: Prefix::of(&b.cidr),
            except: b.except.iter().map(Prefix::of).collect(),
        }
    }

    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.net.contains(ip) && !self.except.iter().any(|e| e.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_match_like_the_spec() {
        let spec = IpBlock {
            cidr: "10.0.0.0/8".parse().unwrap(),
            except: vec!["10.1.0.0/16".parse().unwrap()],
        };
        let b = Block::compile(&spec);
        for ip in ["10.0.0.1", "10.1.2.3", "11.0.0.1", "::1", "10.255.255.255"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(b.contains(ip), spec.contains(ip), "{ip}");
        }
        let all = Block::compile(&IpBlock {
            cidr: "0.0.0.0/0".parse().unwrap(),
            except: vec![],
        });
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert!(!all.contains("::".parse().unwrap()));
    }
}
