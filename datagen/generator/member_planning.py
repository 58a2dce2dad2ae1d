"""Members planned in memory: names by the branch's city, phones, KYC, and their two accounts."""

from __future__ import annotations

from datetime import timedelta

from datagen import names
from members.models import Member

from .common import HEAVY_ACCOUNTS


class MemberPlanning:
    """`plan_members`: the member rows and their SAVINGS and SHARES accounts."""

    def plan_members(self) -> None:
        rng, count = self.rng, self.sizes.members
        # Join dates: 30% in the last year, the rest over the ten years before; sorted, so member
        # numbers follow the order in which people joined.
        joins = sorted(
            self.as_of
            - timedelta(days=rng.randrange(1, 365) if rng.random() < 0.3 else rng.randrange(365, 3650))
            for _ in range(count)
        )
        self.member_join = joins
        self.member_join_ord = [d.toordinal() for d in joins]
        self.member_branch = [rng.randrange(len(self.branches)) for _ in range(count)]
        self.member_rows = []
        self.member_savings, self.member_shares, self.member_status = [], [], []
        self.member_names = []
        mult = 7_654_321  # coprime with 10^7: phone numbers are a permutation of serials
        statuses = [Member.Status.ACTIVE] * 94 + [Member.Status.DORMANT] * 4 + [Member.Status.SUSPENDED] * 2
        group_tables = {}
        for i in range(count):
            serial = self.member_base + 1 + i
            branch = self.member_branch[i]
            city, state, streets, weights = self.branch_city[branch]
            if city not in group_tables:
                group_tables[city] = (list(weights), list(weights.values()))
            groups, gweights = group_tables[city]
            group = rng.choices(groups, gweights)[0]
            female_names, male_names, surnames = names.NAMES[group]
            female = rng.random() < 0.52
            first = rng.choice(female_names if female else male_names)
            last = rng.choice(surnames)
            quotient, slot = divmod(serial, len(names.PHONE_PREFIXES))
            local = (quotient * mult + slot * 2_718_281 + 1_234_567) % 10_000_000
            phone = f"+234{names.PHONE_PREFIXES[slot]}{local:07d}"
            email = ""
            if rng.random() < 0.7:
                handle = f"{first}.{last}{serial}".lower().replace("'", "")
                email = f"{handle}@{rng.choice(names.EMAIL_DOMAINS)}"
            join = joins[i]
            born = join - timedelta(days=rng.randrange(18 * 366, 70 * 365))
            status = rng.choice(statuses)
            kyc_roll = rng.random()
            kyc = "VERIFIED" if kyc_roll < 0.75 else ("PENDING" if kyc_roll < 0.97 else "REJECTED")
            created_ts = self.ts_on(join)
            reviewed_at = (
                self.ts_dt(created_ts + rng.randrange(3600, 5 * 86400)) if kyc != "PENDING" else None
            )
            kin_first = rng.choice(male_names if female else female_names)
            kin_serial = (serial * 31 + 17) % 10_000_000
            kin_prefix = names.PHONE_PREFIXES[(serial * 7) % len(names.PHONE_PREFIXES)]
            created = self.ts_dt(created_ts)
            self.member_rows.append(
                (
                    self.new_uuid(1, i),
                    f"MEM{serial:05d}",
                    first,
                    last,
                    email,
                    phone,
                    born,
                    "F" if female else "M",
                    rng.choice(names.OCCUPATIONS),
                    rng.choice(names.EMPLOYERS),
                    f"{rng.randrange(1, 120)} {rng.choice(streets)}",
                    city,
                    state,
                    status,
                    ""
                    if status == "ACTIVE"
                    else ("No activity for 12 months" if status == "DORMANT" else "Under review"),
                    None if status == "ACTIVE" else created,
                    join,
                    self.branches[branch].pk,
                    f"{kin_first} {last}",
                    rng.choice(names.RELATIONSHIPS),
                    f"+234{kin_prefix}{kin_serial:07d}",
                    kyc,
                    self.managers[branch] if kyc != "PENDING" else None,
                    reviewed_at,
                    "Photo ID does not match the applicant" if kyc == "REJECTED" else "",
                    self.tellers[branch],
                    created,
                    created,
                )
            )
            self.member_status.append(status)
            self.member_names.append(f"{first} {last}")
            for kind, bucket in (("SAVINGS", self.member_savings), ("SHARES", self.member_shares)):
                index = self._add_account(self.new_uuid(2, len(self.acc_new)), False, branch)
                self.acc_new.append((index, i, kind, created_ts, f"{first} {last} – {kind.title()}"))
                bucket.append(index)
        # The busiest savings accounts (market associations, cooperative groups): early members.
        self.heavy = list(range(min(HEAVY_ACCOUNTS, count)))
