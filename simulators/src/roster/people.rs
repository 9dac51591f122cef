//! The simulated day's candidates: names in their language's script, ID numbers with a
//! right check character, birth dates that make them of driving age.

use examgate_device_sdk::idcard::{CardDate, id_check_char};

use crate::rng::SplitMix64;

/// The twelve exam languages, in the order candidates get them: candidate 1 `zh-CN`,
/// candidate 2 (the foreigner card's holder) `en`, then the right-to-left and vertical
/// scripts early, so that a short roster shows every layout.
pub const LANGUAGES: [&str; 12] = ["zh-CN", "en", "ug", "mn-Mong", "ar", "kk-Arab", "fr", "de", "ru", "es", "ja", "ko"];

/// Whom the resident card (`cards/resident.toml`) belongs to: candidate 1.
pub const RESIDENT_CARD_HOLDER: Person = Person { name: "张伟", id_number: "110105199003071239" };
/// Whom the 2023 foreigner card (`cards/foreigner-2023.toml`) belongs to: candidate 2.
pub const FOREIGNER_CARD_HOLDER: Person = Person { name: "史密斯", id_number: "911840198802140037" };

/// A card holder the simulators know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Person {
    pub name: &'static str,
    pub id_number: &'static str,
}

/// Full names as they would be booked, in the language's own script (the minority
/// languages of China in theirs: traditional Mongolian, Uyghur and Kazakh Arabic script).
fn names(language: &str) -> &'static [&'static str] {
    match language {
        "zh-CN" => &["王秀英", "李建华", "刘洋", "陈静", "杨浩然", "赵欣怡", "黄磊", "周雨桐", "吴涛", "徐子涵"],
        "en" => &["Emily Carter", "James Wilson", "Olivia Brown", "Daniel Moore", "Grace Taylor"],
        "fr" => &["Camille Dubois", "Louis Martin", "Chloé Bernard", "Hugo Lefèvre", "Léa Moreau"],
        "de" => &["Lukas Schneider", "Anna Müller", "Jonas Fischer", "Lea Weber", "Felix Wagner"],
        "ru" => &["Анна Смирнова", "Дмитрий Иванов", "Ольга Кузнецова", "Сергей Попов", "Мария Соколова"],
        "es" => &["Lucía García", "Mateo López", "Sofía Martínez", "Pablo Sánchez", "Elena Romero"],
        "ar" => &["ليلى حسن", "عمر خالد", "مريم علي", "يوسف إبراهيم", "سارة محمود"],
        "ja" => &["佐藤 陽菜", "鈴木 大翔", "高橋 結衣", "田中 蓮", "伊藤 美咲"],
        "ko" => &["김민준", "이서연", "박지훈", "최수아", "정하은"],
        "mn-Mong" => &["ᠪᠠᠲᠤ", "ᠣᠶᠤᠨ", "ᠲᠡᠮᠦᠵᠢᠨ", "ᠪᠠᠶᠠᠷ", "ᠨᠠᠷᠠᠨ", "ᠠᠯᠲᠠᠨ"],
        "ug" => &["ئادىل ئەكبەر", "گۇلنار مەمەت", "ئەركىن تۇرسۇن", "پاتىگۈل ئابلا"],
        "kk-Arab" => &["نۇرلان اسقار", "دانا مارات", "ارمان باقىت"],
        _ => &["Alex Kim"],
    }
}

/// Where people booking in a language are registered: a resident's 6-digit region code,
/// or for a foreigner (2023 permanent residence card, leading `9`) the province and the
/// ISO 3166 numeric country code.
fn origin(language: &str) -> Origin {
    match language {
        "zh-CN" => Origin::Resident(&["110101", "310104", "440106", "510107", "330106"]),
        "mn-Mong" => Origin::Resident(&["150102", "150202", "152502"]),
        "ug" => Origin::Resident(&["650102", "653101", "653201"]),
        "kk-Arab" => Origin::Resident(&["654002", "654021", "654201"]),
        "en" => Origin::Foreigner(&["826", "840", "036"]),
        "fr" => Origin::Foreigner(&["250"]),
        "de" => Origin::Foreigner(&["276"]),
        "ru" => Origin::Foreigner(&["643"]),
        "es" => Origin::Foreigner(&["724"]),
        "ar" => Origin::Foreigner(&["818", "682"]),
        "ja" => Origin::Foreigner(&["392"]),
        "ko" => Origin::Foreigner(&["410"]),
        _ => Origin::Resident(&["110101"]),
    }
}

enum Origin {
    Resident(&'static [&'static str]),
    Foreigner(&'static [&'static str]),
}

fn pick<'a>(rng: &mut SplitMix64, from: &'a [&'a str]) -> &'a str {
    from[(rng.next_u64() % from.len() as u64) as usize]
}

/// A generated name for a candidate booking in `language`.
pub(super) fn name(rng: &mut SplitMix64, language: &str) -> &'static str {
    let list = names(language);
    list[(rng.next_u64() % list.len() as u64) as usize]
}

/// A generated 18-character ID number of someone 18 to 60 on `exam_day`, booking in
/// `language`, with its ISO 7064 MOD 11-2 check character.
pub(super) fn id_number(rng: &mut SplitMix64, language: &str, exam_day: CardDate) -> String {
    let year = u64::from(exam_day.year) - 18 - rng.next_u64() % 43;
    let (month, day) = (1 + rng.next_u64() % 12, 1 + rng.next_u64() % 28);
    let first17 = match origin(language) {
        Origin::Resident(regions) => {
            format!("{}{year:04}{month:02}{day:02}{:03}", pick(rng, regions), rng.next_u64() % 1000)
        }
        Origin::Foreigner(countries) => {
            let province = pick(rng, &["11", "31", "44", "32"]);
            format!("9{province}{}{year:04}{month:02}{day:02}{:03}", pick(rng, countries), rng.next_u64() % 1000)
        }
    };
    let check = id_check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use examgate_device_sdk::idcard::id_check_valid;

    #[test]
    fn every_language_has_names_and_valid_numbers() {
        let day = CardDate::parse_iso("2026-11-25").unwrap();
        let mut rng = SplitMix64::new(7);
        for language in LANGUAGES {
            assert!(!name(&mut rng, language).is_empty());
            for _ in 0..50 {
                let id = id_number(&mut rng, language, day);
                assert!(id_check_valid(&id), "{language}: {id}");
                let born: u16 = id[6..10].parse().unwrap();
                assert!((1966..=2008).contains(&born), "{id}");
            }
        }
    }

    #[test]
    fn the_card_holders_have_valid_numbers() {
        assert!(id_check_valid(RESIDENT_CARD_HOLDER.id_number));
        assert!(id_check_valid(FOREIGNER_CARD_HOLDER.id_number));
    }
}
