//! The stand-in's EC2 account: instances (grouped in reservations) and network interfaces,
//! with realistic fields, and how filters select them.

use crate::query::Filter;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// The account id every resource belongs to.
pub const OWNER_ID: &str = "123456789012";
/// The region's availability zones, assigned round-robin.
const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];
/// The launch time of seeded instances (EC2's ISO 8601 form).
const SEED_LAUNCH_TIME: &str = "2026-11-01T08:00:00.000Z";

/// An instance state: EC2's code and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// 0
    Pending,
    /// 16
    Running,
    /// 32
    ShuttingDown,
    /// 48
    Terminated,
    /// 64
    Stopping,
    /// 80
    Stopped,
}

impl State {
    /// EC2's numeric state code.
    pub fn code(self) -> u8 {
        match self {
            State::Pending => 0,
            State::Running => 16,
            State::ShuttingDown => 32,
            State::Terminated => 48,
            State::Stopping => 64,
            State::Stopped => 80,
        }
    }

    /// EC2's state name.
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Running => "running",
            State::ShuttingDown => "shutting-down",
            State::Terminated => "terminated",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
        }
    }
}

/// One instance, with the members DescribeInstances renders.
#[derive(Debug, Clone)]
pub struct Instance {
    /// `i-` + 17 hex digits.
    pub id: String,
    /// The reservation it was launched in.
    pub reservation_id: String,
    /// The AMI.
    pub image_id: String,
    /// For example `t3.micro`.
    pub instance_type: String,
    /// Its state. With a transition time (`Account::transition`), pending, stopping and
    /// shutting-down last that long before running, stopped and terminated; without one the
    /// state settles at once (a stop answers `stopping` and is `stopped`).
    pub state: State,
    /// The subnet.
    pub subnet_id: String,
    /// The subnet's VPC.
    pub vpc_id: String,
    /// The availability zone.
    pub zone: &'static str,
    /// The primary private IPv4 address.
    pub private_ip: String,
    /// ISO 8601 launch time.
    pub launch_time: String,
    /// Tags, in the order set.
    pub tags: Vec<(String, String)>,
    /// `disabled` or `enabled`.
    pub monitoring: &'static str,
    /// The RunInstances client token, if any.
    pub client_token: String,
    /// Its index in the launch.
    pub launch_index: usize,
    /// Its primary network interface.
    pub eni_id: String,
    /// Its root volume.
    pub volume_id: String,
}

impl Instance {
    /// The value of tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether every filter matches (values of one filter are OR-ed). `Err` names an unknown
    /// filter, as EC2 refuses one.
    pub fn matches(&self, filters: &[Filter]) -> Result<bool, String> {
        for filter in filters {
            let value: Option<&str> = match filter.name.as_str() {
                "instance-state-name" => Some(self.state.name()),
                "instance-id" => Some(&self.id),
                "subnet-id" => Some(&self.subnet_id),
                "vpc-id" => Some(&self.vpc_id),
                "instance-type" => Some(&self.instance_type),
                "reservation-id" => Some(&self.reservation_id),
                "availability-zone" => Some(self.zone),
                "image-id" => Some(&self.image_id),
                "tag-key" => {
                    let any = self
                        .tags
                        .iter()
                        .any(|(k, _)| filter.values.iter().any(|v| glob(v, k)));
                    if !any {
                        return Ok(false);
                    }
                    continue;
                }
                name if name.starts_with("tag:") => self.tag(&name[4..]),
                other => return Err(format!("The filter '{other}' is invalid")),
            };
            let hit = value.is_some_and(|value| filter.values.iter().any(|v| glob(v, value)));
            if !hit {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// One network interface, with the members DescribeNetworkInterfaces renders.
#[derive(Debug, Clone)]
pub struct NetworkInterface {
    /// `eni-` + 17 hex digits.
    pub id: String,
    /// The subnet.
    pub subnet_id: String,
    /// The subnet's VPC.
    pub vpc_id: String,
    /// The availability zone.
    pub zone: &'static str,
    /// The description.
    pub description: String,
    /// Primary first.
    pub private_ips: Vec<String>,
    /// Security group ids.
    pub groups: Vec<String>,
    /// `available` or `in-use`.
    pub status: &'static str,
    /// The instance it is attached to, if any.
    pub attached_to: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// The MAC address.
    pub mac: String,
}

impl NetworkInterface {
    /// Its attachment's id, `eni-attach-` and its own suffix, when attached.
    pub fn attachment_id(&self) -> Option<String> {
        self.attached_to
            .as_ref()
            .map(|_| format!("eni-attach-{}", &self.id[4..]))
    }

    /// Whether every filter matches. `Err` names an unknown filter.
    pub fn matches(&self, filters: &[Filter]) -> Result<bool, String> {
        let attachment_id = self.attachment_id();
        for filter in filters {
            let value: Option<&str> = match filter.name.as_str() {
                "network-interface-id" => Some(&self.id),
                "attachment.attachment-id" => attachment_id.as_deref(),
                "subnet-id" => Some(&self.subnet_id),
                "vpc-id" => Some(&self.vpc_id),
                "status" => Some(self.status),
                "description" => Some(&self.description),
                "attachment.instance-id" => self.attached_to.as_deref(),
                name if name.starts_with("tag:") => self
                    .tags
                    .iter()
                    .find(|(k, _)| k == &name[4..])
                    .map(|(_, v)| v.as_str()),
                other => return Err(format!("The filter '{other}' is invalid")),
            };
            if !value.is_some_and(|value| filter.values.iter().any(|v| glob(v, value))) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// EC2 filter values match exactly, with `*` standing for any run of characters.
fn glob(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len()
                && value.starts_with(head)
                && (0..=value.len() - head.len())
                    .filter(|i| value.is_char_boundary(head.len() + i))
                    .any(|i| glob(tail, &value[head.len() + i..]))
        }
    }
}

/// What a new launch looks like.
#[derive(Debug, Clone, Default)]
pub struct LaunchSpec {
    /// The AMI.
    pub image_id: String,
    /// The instance type (`m1.small` when empty, as EC2's default).
    pub instance_type: String,
    /// The subnet (the first default subnet when empty).
    pub subnet_id: String,
    /// Tags for the instances.
    pub tags: Vec<(String, String)>,
    /// Detailed monitoring on.
    pub monitoring: bool,
    /// The client token.
    pub client_token: String,
}

/// The account: every resource, in creation order, with indexes by id.
#[derive(Debug, Default)]
pub struct Account {
    /// Instances in launch order; reservations are contiguous runs.
    pub instances: Vec<Instance>,
    /// Index of each instance id in `instances`.
    pub instance_index: HashMap<String, usize>,
    /// Network interfaces in creation order.
    pub enis: Vec<NetworkInterface>,
    /// Index of each ENI id in `enis`.
    pub eni_index: HashMap<String, usize>,
    /// A counter making ids unique and deterministic.
    next_id: u64,
    /// How long pending, stopping and shutting-down last; zero: states settle at once.
    pub transition: Duration,
    /// Instances in a transition: id, the state it settles in, and when.
    settling: Vec<(String, State, Instant)>,
}

/// The stand-in's default subnets, one per zone, in one VPC.
pub const SUBNETS: [&str; 3] = [
    "subnet-0a1b2c3d4e5f60001",
    "subnet-0a1b2c3d4e5f60002",
    "subnet-0a1b2c3d4e5f60003",
];
/// The public SSM parameters naming AMIs that the stand-in resolves, as EC2 resolves an
/// `ImageId` of `resolve:ssm:NAME` at launch (through the region's SSM): name -> AMI id.
pub const PUBLIC_IMAGE_PARAMETERS: [(&str, &str); 2] = [
    (
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        "ami-0a2023a2023a20230",
    ),
    (
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        "ami-0a2023a2023a20231",
    ),
];

/// The VPC of `SUBNETS`.
pub const VPC_ID: &str = "vpc-0a1b2c3d4e5f60000";
/// The default security group.
pub const DEFAULT_GROUP: (&str, &str) = ("sg-0a1b2c3d4e5f60000", "default");

impl Account {
    /// Moves `index` into `current`, settling in `settled` after the transition time (at once
    /// without one). Returns the state an EC2 answer reports now.
    pub fn change_state(&mut self, index: usize, current: State, settled: State) -> State {
        let instance = &mut self.instances[index];
        if self.transition.is_zero() || current == settled {
            instance.state = settled;
        } else {
            instance.state = current;
            self.settling.retain(|(id, _, _)| *id != instance.id);
            self.settling.push((
                instance.id.clone(),
                settled,
                Instant::now() + self.transition,
            ));
        }
        current
    }

    /// Ends the transitions whose time has come (called before every request is applied).
    pub fn settle(&mut self, now: Instant) {
        let (due, waiting) = std::mem::take(&mut self.settling)
            .into_iter()
            .partition(|(_, _, at)| *at <= now);
        self.settling = waiting;
        for (id, state, _) in due {
            if let Some(&index) = self.instance_index.get(&id) {
                self.instances[index].state = state;
            }
        }
    }

    /// Removes a network interface.
    pub fn remove_eni(&mut self, id: &str) -> bool {
        remove_indexed(&mut self.enis, &mut self.eni_index, id, |e| &e.id)
    }

    /// Removes an instance, as EC2 does about an hour after it terminated (tests use it to
    /// change the account behind the gateway's back).
    pub fn remove_instance(&mut self, id: &str) -> bool {
        self.settling.retain(|(settling, _, _)| settling != id);
        remove_indexed(&mut self.instances, &mut self.instance_index, id, |i| &i.id)
    }

    /// A fresh id with `prefix`, 17 hex digits like EC2's.
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{:017x}", 0x0ab0_0000_0000_0000_u64 + self.next_id)
    }

    /// Launches `count` instances in one reservation; returns the reservation id.
    pub fn launch(&mut self, spec: &LaunchSpec, count: usize, launch_time: &str) -> String {
        let reservation_id = self.id("r");
        for launch_index in 0..count {
            let n = self.instances.len();
            let subnet = if spec.subnet_id.is_empty() {
                SUBNETS[n % SUBNETS.len()].to_owned()
            } else {
                spec.subnet_id.clone()
            };
            let zone = SUBNETS
                .iter()
                .position(|s| *s == subnet)
                .map_or(ZONES[0], |i| ZONES[i]);
            let id = self.id("i");
            let private_ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
            let eni_id = self.id("eni");
            let volume_id = self.id("vol");
            self.eni_index.insert(eni_id.clone(), self.enis.len());
            self.enis.push(NetworkInterface {
                id: eni_id.clone(),
                subnet_id: subnet.clone(),
                vpc_id: VPC_ID.to_owned(),
                zone,
                description: String::new(),
                private_ips: vec![private_ip.clone()],
                groups: vec![DEFAULT_GROUP.0.to_owned()],
                status: "in-use",
                attached_to: Some(id.clone()),
                tags: Vec::new(),
                mac: mac(n),
            });
            self.instance_index.insert(id.clone(), n);
            self.instances.push(Instance {
                id,
                reservation_id: reservation_id.clone(),
                image_id: spec.image_id.clone(),
                instance_type: if spec.instance_type.is_empty() {
                    "m1.small".to_owned()
                } else {
                    spec.instance_type.clone()
                },
                state: State::Running,
                subnet_id: subnet,
                vpc_id: VPC_ID.to_owned(),
                zone,
                private_ip,
                launch_time: launch_time.to_owned(),
                tags: spec.tags.clone(),
                monitoring: if spec.monitoring {
                    "enabled"
                } else {
                    "disabled"
                },
                client_token: spec.client_token.clone(),
                launch_index,
                eni_id,
                volume_id,
            });
        }
        reservation_id
    }

    /// Creates a network interface; returns its id.
    pub fn create_eni(
        &mut self,
        subnet_id: &str,
        description: &str,
        groups: Vec<String>,
        secondary_ips: usize,
        tags: Vec<(String, String)>,
    ) -> String {
        let n = self.enis.len();
        let id = self.id("eni");
        let zone = SUBNETS
            .iter()
            .position(|s| *s == subnet_id)
            .map_or(ZONES[0], |i| ZONES[i]);
        let private_ips = (0..=secondary_ips)
            .map(|k| format!("10.200.{}.{}", (n >> 4) & 255, ((n & 15) << 4) + k))
            .collect();
        self.eni_index.insert(id.clone(), n);
        self.enis.push(NetworkInterface {
            id: id.clone(),
            subnet_id: subnet_id.to_owned(),
            vpc_id: VPC_ID.to_owned(),
            zone,
            description: description.to_owned(),
            private_ips,
            groups: if groups.is_empty() {
                vec![DEFAULT_GROUP.0.to_owned()]
            } else {
                groups
            },
            status: "available",
            attached_to: None,
            tags,
            mac: mac(n + 1_000_000),
        });
        id
    }

    /// Seeds `instances` instances (in reservations of up to 4, tagged `team` = `team-0..9`
    /// and `Name`) and `enis` free network interfaces.
    pub fn seed(&mut self, instances: usize, enis: usize) {
        self.instances.reserve(instances);
        self.enis.reserve(instances + enis);
        let mut left = instances;
        while left > 0 {
            let n = self.instances.len();
            let count = left.min(1 + n % 4);
            let spec = LaunchSpec {
                image_id: "ami-0fedcba9876543210".to_owned(),
                instance_type: ["t3.micro", "m7g.large", "c7i.xlarge"][n % 3].to_owned(),
                tags: vec![
                    ("team".to_owned(), format!("team-{}", n % 10)),
                    ("Name".to_owned(), format!("seed-{n}")),
                ],
                ..LaunchSpec::default()
            };
            self.launch(&spec, count, SEED_LAUNCH_TIME);
            left -= count;
        }
        for i in 0..enis {
            let subnet = SUBNETS[i % SUBNETS.len()];
            self.create_eni(subnet, &format!("seed eni {i}"), Vec::new(), 1, Vec::new());
        }
    }
}

/// Removes item `id` from `items` and `index`, and moves the index of the items after it.
fn remove_indexed<T>(
    items: &mut Vec<T>,
    index: &mut HashMap<String, usize>,
    id: &str,
    id_of: impl Fn(&T) -> &String,
) -> bool {
    let Some(at) = index.remove(id) else {
        return false;
    };
    items.remove(at);
    for (i, item) in items.iter().enumerate().skip(at) {
        index.insert(id_of(item).clone(), i);
    }
    true
}

/// A locally administered MAC address unique to `n`.
fn mac(n: usize) -> String {
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:01",
        (n >> 24) & 255,
        (n >> 16) & 255,
        (n >> 8) & 255,
        n & 255
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_select_like_ec2() {
        let mut account = Account::default();
        account.seed(20, 0);
        let filter = |name: &str, values: &[&str]| Filter {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let team3 = account
            .instances
            .iter()
            .filter(|i| i.matches(&[filter("tag:team", &["team-3"])]).unwrap())
            .count();
        assert!(team3 > 0 && team3 < 20);
        let running = [filter("instance-state-name", &["running", "stopped"])];
        assert!(
            account
                .instances
                .iter()
                .all(|i| i.matches(&running).unwrap())
        );
        let seeds = [filter("tag:Name", &["seed-*"])];
        assert!(account.instances.iter().all(|i| i.matches(&seeds).unwrap()));
        assert!(
            account.instances[0]
                .matches(&[filter("bogus", &["x"])])
                .is_err()
        );
        assert!(glob("a*c*", "abxcd") && !glob("a*c", "abd"));
    }

    #[test]
    fn transitions_last_the_transition_time() {
        let mut account = Account {
            transition: Duration::from_secs(3600),
            ..Account::default()
        };
        account.seed(2, 0);
        assert_eq!(
            account.change_state(0, State::Stopping, State::Stopped),
            State::Stopping
        );
        account.settle(Instant::now());
        assert_eq!(account.instances[0].state, State::Stopping);
        account.settle(Instant::now() + Duration::from_secs(3601));
        assert_eq!(account.instances[0].state, State::Stopped);
        let primary = &account.enis[0];
        let by_attachment = [Filter {
            name: "attachment.attachment-id".into(),
            values: vec![primary.attachment_id().expect("the primary is attached")],
        }];
        assert!(primary.matches(&by_attachment).unwrap());
        assert!(!account.enis[1].matches(&by_attachment).unwrap());
        let gone = account.instances[0].id.clone();
        assert!(account.remove_instance(&gone));
        assert_eq!(account.instances.len(), 1);
        let last = account.instances[0].id.clone();
        assert_eq!(account.instance_index[&last], 0);
    }
}
