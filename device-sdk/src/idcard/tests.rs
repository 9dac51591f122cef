use super::*;

fn resident() -> CardFields {
    CardFields {
        card_type: CardType::Resident,
        name: "张三".into(),
        english_name: None,
        sex: Sex::Male,
        nation: Nation::from_code(1),
        birth_date: CardDate::new(1949, 12, 31).unwrap(),
        address: "北京市朝阳区建国路88号".into(),
        id_number: "11010519491231002X".into(),
        issuer: "北京市公安局朝阳分局".into(),
        valid_from: CardDate::new(2015, 3, 1).unwrap(),
        valid_until: None,
        nationality: None,
    }
}

/// A resident block written field by field from the layout in protocols.md,
/// independent of `encode`.
fn golden_resident_block() -> Vec<u8> {
    let mut b = Vec::new();
    let mut push = |s: &str, bytes: usize| {
        let mut units: Vec<u16> = s.encode_utf16().collect();
        units.resize(bytes / 2, 0x20);
        for u in units {
            b.extend_from_slice(&u.to_le_bytes());
        }
    };
    push("张三", 30);
    push("1", 2);
    push("01", 4);
    push("19491231", 16);
    push("北京市朝阳区建国路88号", 70);
    push("11010519491231002X", 36);
    push("北京市公安局朝阳分局", 30);
    push("20150301", 16);
    push("长期", 16);
    push("", 36);
    b
}

#[test]
fn parses_a_resident_card_from_the_documented_layout() {
    let block = golden_resident_block();
    assert_eq!(block.len(), TEXT_LEN);
    let card = CardFields::parse(&block).unwrap();
    assert_eq!(card, resident());
    assert!(card.id_number_valid());
    assert_eq!(card.nation.unwrap().label(), "汉");
    assert_eq!(card.valid_until, None, "长期 means no expiry");
}

#[test]
fn encode_matches_the_documented_layout() {
    assert_eq!(resident().encode().to_vec(), golden_resident_block());
}

#[test]
fn every_card_type_round_trips() {
    let foreign_old = CardFields {
        card_type: CardType::ForeignerOld,
        name: "约翰".into(),
        english_name: Some("SMITH, JOHN".into()),
        sex: Sex::Male,
        nation: None,
        birth_date: CardDate::new(1980, 2, 29).unwrap(),
        address: String::new(),
        id_number: "USA110080022901".into(),
        issuer: String::new(),
        valid_from: CardDate::new(2018, 1, 1).unwrap(),
        valid_until: CardDate::new(2028, 1, 1),
        nationality: Some("USA".into()),
    };
    let long_name = "VERYLONGFAMILYNAMEINDEED, FIRSTNAME MIDDLE";
    let foreign_new = CardFields {
        card_type: CardType::ForeignerNew,
        name: "玛丽".into(),
        english_name: Some(long_name.into()),
        sex: Sex::Female,
        nation: None,
        birth_date: CardDate::new(1990, 7, 4).unwrap(),
        address: String::new(),
        id_number: "911840199007040026".into(),
        issuer: String::new(),
        valid_from: CardDate::new(2023, 12, 1).unwrap(),
        valid_until: CardDate::new(2033, 12, 1),
        nationality: Some("GBR".into()),
    };
    let hk = CardFields {
        card_type: CardType::HkMoTw,
        name: "陈大文".into(),
        nation: None,
        id_number: "810000199001010012".into(),
        ..resident()
    };
    for card in [resident(), foreign_old, foreign_new, hk] {
        let back = CardFields::parse(&card.encode()).unwrap();
        assert_eq!(back, card, "{:?}", card.card_type);
    }
}

#[test]
fn id_check_character_is_iso_7064_mod_11_2() {
    assert!(id_check_valid("11010519491231002X"));
    assert!(id_check_valid("11010519491231002x"));
    assert!(id_check_valid("440524188001010014"));
    assert!(!id_check_valid("440524188001010015"));
    assert!(!id_check_valid("44052418800101001"));
    assert!(!id_check_valid("4405241880010100１4"));
    assert_eq!(id_check_char("11010519491231002"), Some('X'));
}

#[test]
fn has_all_56_nations_plus_97_and_98() {
    let all: Vec<u8> = Nation::all().map(Nation::code).collect();
    assert_eq!(all.len(), 58);
    assert!((1..=56).all(|c| all.contains(&c)));
    assert_eq!(Nation::from_code(97).unwrap().label_en(), "Other");
    assert_eq!(Nation::from_code(98).unwrap().label(), "外国血统中国籍人士");
    assert_eq!(Nation::from_code(57), None);
    assert_eq!(Nation::from_code(56).unwrap().label(), "基诺");
}

#[test]
fn rejects_malformed_blocks_with_typed_errors() {
    assert_eq!(CardFields::parse(&[0x20; 255]), Err(CardParseError::WrongLength(255)));
    let mut bad_type = golden_resident_block();
    bad_type[248] = b'Q';
    assert_eq!(CardFields::parse(&bad_type), Err(CardParseError::UnknownType('Q')));
    let mut bad_date = golden_resident_block();
    bad_date[36] = b'X';
    assert!(matches!(CardFields::parse(&bad_date), Err(CardParseError::BadField { field: "birth_date", .. })));
    let mut bad_nation = golden_resident_block();
    bad_nation[32..36].copy_from_slice(&[b'5', 0, b'7', 0]);
    assert!(matches!(CardFields::parse(&bad_nation), Err(CardParseError::BadField { field: "nation", .. })));
    let mut lone_surrogate = golden_resident_block();
    lone_surrogate[0..2].copy_from_slice(&0xD800u16.to_le_bytes());
    assert_eq!(CardFields::parse(&lone_surrogate), Err(CardParseError::BadText { field: "name" }));
}

#[test]
fn never_panics_on_arbitrary_blocks() {
    // A deterministic sweep of mutations over a valid block.
    let base = golden_resident_block();
    let mut state = 0x1234_5678_u64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut block = base.clone();
        let pos = (state % 256) as usize;
        block[pos] = (state >> 8) as u8;
        let _ = CardFields::parse(&block);
    }
}

#[test]
fn dates_are_validated() {
    assert_eq!(CardDate::parse_compact("20240229"), CardDate::new(2024, 2, 29));
    assert_eq!(CardDate::parse_compact("20230229"), None);
    assert_eq!(CardDate::parse_compact("2023013"), None);
    assert_eq!(CardDate::parse_iso("2023-01-31").unwrap().to_string(), "2023-01-31");
}

#[test]
fn debug_output_masks_the_id_number() {
    let shown = format!("{:?}", resident());
    assert!(!shown.contains("11010519491231002X"), "{shown}");
    assert_eq!(mask_id("11010519491231002X"), "1101************2X");
}

#[test]
fn identifiers_only_reads_have_no_fields() {
    let read = crate::CardRead { text: vec![], photo: vec![], chip_serial: vec![0x10, 0xE4] };
    let card = IdentityCard::from_read(&read, CardSource::PcscIdentifiers).unwrap();
    assert!(card.fields.is_none());
    assert_eq!(card.photo_sha256(), None);
}
