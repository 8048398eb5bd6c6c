"""Attribution versus mention: the extremist_source rules, with hard negatives."""

import pytest

from classifiers.document import build_document
from classifiers.rules.stage import RuleStage


@pytest.fixture(scope="module")
def rules():
    return RuleStage()


def ext(rules, body, **extra):
    vote = rules.run(build_document({"body": body, **extra})).votes.get("extremist_source")
    return vote.actors if vote else None


@pytest.mark.parametrize("body,actor", [
    ("A new video purportedly put out by the Islamic State shows its fighters in Raqqa.", "Islamic State"),
    ("The footage was released on ISIS channels late on Tuesday.", "Islamic State"),
    ("Islamic State militants released a video on Tuesday showing the group's fighters.", "Islamic State"),
    ("In a statement carried by its Amaq news agency, the group said it carried out the attack.", "Islamic State"),
    ("According to Amaq, the attackers were 'soldiers of the caliphate'.", "Islamic State"),
    ("Al-Shabaab claimed responsibility for the bombing in a post on a militant website.", "al-Shabaab"),
    ("An al-Shabaab video shows fighters training in southern Somalia.", "al-Shabaab"),
    ("The clip, which was posted on the group's Telegram channels, was attributed to Daesh.", "Islamic State"),
])
def test_attribution_is_found(rules, body, actor):
    actors = ext(rules, body)
    assert actors is not None, body
    assert actor in actors


@pytest.mark.parametrize("body", [
    "The Iraqi army released footage of airstrikes on ISIS positions near Mosul.",
    "The Pentagon said Islamic State fighters had been pushed out of the town.",
    "A UN report on al-Shabaab finances was published on Monday.",
    "The State Department designated the group a foreign terrorist organisation in 2004.",
    "The Hamas-run health ministry said in a statement that 40 people were killed.",
    "Coalition forces fighting ISIS released a video of the operation.",
    "Analysts say the Islamic State has lost most of its territory since 2017.",
    "No group has claimed responsibility for the attack, which officials blamed on al-Shabaab.",
    "The London-based newspaper reported the story in its weekend edition.",
    "Labour's manifesto promises more police officers.",
    # a leader or unnamed militants mentioned, not quoted
    "US forces killed Osama bin Laden in Abbottabad in 2011.",
    "Islamist militants killed 12 soldiers in an ambush, the army said.",
    "Police arrested three suspected Islamist militants in a raid on Tuesday.",
    "A biography of Zarqawi published this year traces his path from Jordan to Iraq.",
])
def test_reporting_about_a_group_is_not_attribution(rules, body):
    assert ext(rules, body) is None, body


def test_headline_in_capitals_does_not_read_IS_as_the_group(rules):
    assert ext(rules, "", title="THE VIDEO IS RELEASED BY THE STUDIO TODAY") is None


def test_media_credit_naming_an_outlet_is_attribution(rules):
    doc = build_document({"type": "media", "media": [{"id": "m1", "caption": "A still from the video", "credit": "Amaq News Agency"}]})
    vote = rules.run(doc).votes["extremist_source"]
    assert vote.actors == ["Islamic State"]
    assert vote.evidence[0].field == "media[0].credit"


def test_wire_credit_is_not_attribution(rules):
    doc = build_document({"type": "media", "media": [{"id": "m1", "caption": "Smoke over the city", "credit": "Reuters"}]})
    assert "extremist_source" not in rules.run(doc).votes


def test_attacker_manifesto_is_left_to_the_classifier(rules):
    """An attacker's material near the attacker is as often a mention as a source: a signal, not a vote."""
    doc = build_document({"body": "The gunman posted a manifesto online minutes before the attack on the mosque."})
    result, signals = rules.analyse(doc)
    assert "extremist_source" not in result.votes and signals.attribution > 0.5


@pytest.mark.parametrize("body,labels", [
    ("The group's videos have drawn fewer viewers since 2019, researchers said.", False),
    ("Islamic State's propaganda has moved to smaller platforms.", False),
    ("A new Islamic State video shows the aftermath of airstrikes on the town.", True),
    ("An al-Shabaab video shows fighters training in southern Somalia.", True),
])
def test_owning_a_kind_of_material_is_a_signal_and_owning_an_item_labels(rules, body, labels):
    assert (ext(rules, body) is not None) == labels, body


def test_lexicon_version_is_reported(rules):
    assert rules.version.startswith("actors-")


@pytest.mark.parametrize("body", [
    "A video released by 1S1S shows fighters in the desert.",
    "A video released by I S I S shows fighters in the desert.",
    "A video released by \u0406SIS shows fighters in the desert.",
    "A video released by IS\u200bIS shows fighters in the desert.",
    "A video released by &#73;SIS shows fighters in the desert.",
])
def test_evasions_still_resolve_the_actor(rules, body):
    fmt = "html" if "&#" in body else "text"
    vote = rules.run(build_document({"body": f"<p>{body}</p>" if fmt == "html" else body, "body_format": fmt})).votes.get("extremist_source")
    assert vote is not None and vote.actors == ["Islamic State"], body


@pytest.mark.parametrize("body,actor", [
    ("The Russian Imperial Movement, the group designated in 2020, has posted a video on its channel showing volunteers training.", "Russian Imperial Movement"),
    ("Britain banned The Base on Friday. The group responded in a long post on its Telegram channel.", "The Base"),
])
def test_material_on_the_groups_own_channel(rules, body, actor):
    assert actor in (ext(rules, body) or [])


def test_sharing_copies_of_a_groups_newsletter_is_not_attribution(rules):
    assert ext(rules, "He was jailed after a jury heard he had shared copies of an Islamic State newsletter.") is None


def test_a_branch_named_after_its_parent_is_reported_as_the_parent():
    from classifiers.document import build_document
    from classifiers.rules.stage import RuleStage

    result = RuleStage().run(build_document({"title": "", "body": "A video released by Islamic State West Africa Province shows the raid."}))
    vote = result.votes["extremist_source"]
    assert vote.actors == ["Islamic State"]
    assert "Islamic State West Africa Province" in vote.evidence[0].text
    result = RuleStage().run(build_document({"body": "Al-Qaeda in the Arabian Peninsula released a video on Sunday."}))
    assert result.votes["extremist_source"].actors == ["al-Qaeda"]


@pytest.mark.parametrize("body,actor", [
    # a leader's or spokesman's recording is the group's material
    ("In a videotape broadcast by al-Jazeera, Ayman al-Zawahiri said the US faced defeat.", "al-Qaeda"),
    ("Osama bin Laden's deputy proclaimed in a videotape broadcast Thursday that the US would be defeated.", "al-Qaeda"),
    ("A new audio message from Abu Bakr al-Baghdadi urged followers to keep fighting.", "Islamic State"),
    # a group the item does not name, known by its kind or by where it posted
    ("The kidnappers demanded a ransom, according to a statement posted on an Islamic Web site.", None),
    ("A video posted on a jihadist forum on Monday shows the hostage pleading for his life.", None),
    ("The Iraqi kidnappers of two engineers said in a video statement they would free them.", None),
])
def test_leaders_and_unnamed_militant_groups_are_attributed(rules, body, actor):
    """An unnamed group labels the item, but names no actor (the policy's actors are the groups identified)."""
    assert ext(rules, body) == ([actor] if actor else []), body


def test_a_named_group_is_reported_beside_an_unnamed_source(rules):
    body = "AQIM said in a statement posted on a jihadist forum that it held the two hostages."
    assert ext(rules, body) == ["al-Qaeda"]  # AQIM: a branch named after its parent


@pytest.mark.parametrize("body,actor", [
    # wire copy: a claim by a group the item describes but does not name, or names only as it names itself
    ("A Chechen rebel commander has claimed responsibility for the school siege in southern Russia.", None),
    ("Militants said Tuesday that they had beheaded a second American hostage.", None),
    ('A group calling itself "The Islamic Army in Iraq" said Italy must withdraw its troops.', "Islamic Army in Iraq"),
    ("A group calling itself the Secret Islamic Army will release seven hostages, the group announced.", "Secret Islamic Army"),
    # designated groups of the 2000s wire, and a leader's claim as the group's
    ("The group Tawhid and Jihad said in a statement posted on a website that it had killed the hostage.", "Islamic State"),
    ("Chechen rebel leader Shamil Basayev took responsibility for the school siege.", "Riyadus-Salikhin Battalion"),
    ("The IRA said in a statement that it would put its weapons beyond use.", "Provisional IRA"),
])
def test_wire_claims_by_unnamed_and_self_named_groups(rules, body, actor):
    assert ext(rules, body) == ([actor] if actor else []), body


@pytest.mark.parametrize("body", [
    "The army said it had killed 30 militants who claimed to be fighting for the Taliban.",
    "Police said militants had killed three soldiers near the border.",
    "Police arrested members of a group calling itself the Sword of Islam, officials said.",
    "Tokyo said it would keep its troops in Iraq, after militants threatened to kill a Japanese citizen.",
    "The militants had earlier demanded the release of prisoners, officials recalled.",
    "An ethnic armed group said it had shot down a military jet.",
    # "army" inside a group's name is not a reporting subject, and outside it still is
    "Security forces killed three insurgents, the army said.",
])
def test_unnamed_militants_reported_about_are_not_claims(rules, body):
    assert ext(rules, body) is None, body


def test_an_attackers_post_quoted_at_length_is_carried(rules):
    body = ("Minutes before the attack, the suspect posted on the social network Gab. "
            '"I can\'t sit by and watch my people get slaughtered. I\'m going in," the post read. Eleven worshippers were killed.')
    assert ext(rules, body) == []


@pytest.mark.parametrize("body", [
    # the attacker's material named but not quoted: a signal for the classifier only
    "The gunman posted a manifesto online before the attack, police said.",
    # a long quote, but from a survivor, not from the material
    'The suspect posted online before the attack. "I saw him raise the rifle and fire at the people in the queue," a survivor said.',
])
def test_an_attackers_material_mentioned_or_others_quoted_does_not_label(rules, body):
    assert ext(rules, body) is None, body


def test_writing_about_propaganda_is_a_signal_for_the_classifier(rules):
    doc = build_document({"title": "Fact check: the claim is fake",
                          "body": "Researchers who study the group's propaganda said the statement was fabricated."})
    _, signals = rules.analyse(doc)
    assert {"fact check", "fake", "researchers", "fabricated"} <= signals.meta
    assert signals.vector()[-1] > 0


def test_wire_headlines_in_the_present_tense(rules):
    assert ext(rules, "", title="Kidnappers threaten to kill western journalist") == []
    assert ext(rules, "", title="Hamas threatens to resume suicide bombings") == ["Hamas"]
    # a possessive owns the noun: the demand is reported, not voiced
    assert ext(rules, "Manila has begun pulling its troops out, meeting the kidnappers' central demand.") is None


@pytest.mark.parametrize("body", [
    # a claim recalled as background is left to the classifier
    "A court convicted two men over the 2013 mall siege. Al-Shabaab claimed responsibility for the attack at the time.",
    "A man who helped one of the attackers was sentenced on Friday. Islamic State had claimed the attack.",
    # a base form after "to" states nothing
    "A group that officials call a proxy of Lashkar-e-Taiba appeared to claim the attack, then denied it.",
])
def test_recalled_or_hedged_claims_do_not_label_on_their_own(rules, body):
    assert ext(rules, body) is None, body


def test_a_claim_made_now_still_labels(rules):
    assert ext(rules, "Al-Shabaab claimed responsibility for Tuesday's attack on the base.") == ["al-Shabaab"]


@pytest.mark.parametrize("body,actor", [
    # a group's statement that claims an act, or its spokesman's words, is the group's material
    ("Yemen's Houthis said they fired a ballistic missile at the airport on Sunday.", "Houthis"),
    ("Officials blamed al-Shabaab. The group said on Wednesday that its fighters had killed three spies.", "al-Shabaab"),
    ('"Any soldier who crosses the river will be buried there," Ali Dhere, al-Shabaab\'s spokesman, said on Sunday.', "al-Shabaab"),
    # a spokesman by telephone, or denying, speaks for the group
    ("Taliban spokesman Qari Yousuf Ahmadi said by telephone that militants had freed 400 prisoners.", "Taliban"),
    ("Taliban spokesman Zabiullah Mujahid denied the movement was behind the bomb.", "Taliban"),
])
def test_a_groups_own_statement_of_an_act_or_its_spokesman(rules, body, actor):
    assert ext(rules, body) == [actor], body


@pytest.mark.parametrize("body", [
    "Hezbollah has said it will cooperate with the investigation.",
    "The army said it had killed 20 al-Shabaab fighters.",
    "Israel said Hamas had fired rockets at Ashkelon.",
    "A government spokesman said al-Shabaab had attacked the base.",
    "The attack, which al-Shabaab said at the time it had carried out, closed the beach for a month.",
    "A government spokesman told reporters that Hamas had fired rockets.",
    "Police told reporters that al-Shabaab had attacked the base.",
    # a group that governs speaks as a state
    "The Taliban government said it had killed six members of Islamic State's Khorasan branch.",
])
def test_statements_about_a_group_or_recalled_are_not_its_material(rules, body):
    assert ext(rules, body) is None, body


@pytest.mark.parametrize("body,actor", [
    # the speaker stands before an appositive or relative clause
    ("The Amaq news agency, which the Islamic State group uses to publicise its operations, said on Sunday that the "
     "man was a soldier of the group.", "Islamic State"),
    ("Doku Umarov, the leader of an Islamist insurgency in the North Caucasus, claimed responsibility for the airport "
     "bombing in a video posted on a rebel website.", "Caucasus Emirate"),
    # words inside an inserted clause neither negate nor recall
    ("Hamas, which is not a state, released a video of the attack.", "Hamas"),
    ("Al-Shabaab, which often attacks hotels in Mogadishu, claimed the attack on Monday.", "al-Shabaab"),
    # a participle kept apart from its "by"
    ("A video uploaded in early 2018 by Atomwaffen Division shows masked members firing rifles.", "Atomwaffen Division"),
    # a statement on the group's channel
    ("The Qassam Brigades said on Telegram on Sunday that its fighters had struck a tank.", "Hamas"),
    # a group confirming a death, a dated statement, a spokesman in apposition
    ("Hezbollah confirmed on Wednesday that its senior commander was killed in an Israeli strike.", "Hezbollah"),
    ("The Tehrik-i-Taliban Pakistan said on Tuesday it was not behind Monday's suicide bombing.", "Tehrik-i-Taliban Pakistan"),
    ("Sami Abu Zuhri, a spokesman for Hamas, told AFP by telephone that the resistance would respond.", "Hamas"),
    # trailing wire attribution
    ("The Irish Republican Army has reopened talks with the disarmament chief, the outlawed group said yesterday.", "Provisional IRA"),
    # "may" in a date is no auxiliary
    ("The Islamic State's May issue of Dabiq praised the attack.", "Islamic State"),
    # a fact check that found the material genuine carries it
    ("A fact check found the video was not fake. A new video released by ISIS on Monday shows two men.", "Islamic State"),
])
def test_a_groups_words_in_wire_constructions(rules, body, actor):
    assert ext(rules, body) == [actor], body


@pytest.mark.parametrize("body", [
    "The army, which has fought al-Shabaab for years, said it had killed 20 militants.",
    "Zawahiri has not appeared in a new video for more than a year.",
    "No, al-Shabaab did not claim the Nairobi blackout.",
    "In the past, the Islamic State group has usually claimed attacks within 24 hours.",
    # material in bulk, written about
    "The volume of official propaganda released by the Islamic State group fell by roughly 90 percent, a study found.",
    "The video released on Tuesday by the army shows Islamic State fighters surrendering.",
    # others confirming or trailing about a group; a channel later in the sentence is no statement on it
    "The army confirmed on Monday that Hamas fighters had crossed the border.",
    "Hamas violated the truce, Israel said.",
    "Hamas said Israeli soldiers had raided its offices and boasted about it on their channels.",
])
def test_negated_habitual_bulk_or_others_words_do_not_label(rules, body):
    assert ext(rules, body) is None, body


def test_a_fact_check_that_calls_the_claim_fake_does_not_carry_it(rules):
    body = ("Screenshots shared on Facebook purporting to show a statement from the Islamic State group's Amaq agency "
            "claiming responsibility for a dam failure are fabricated. Verdict: False.")
    assert ext(rules, body, title="Fact check: 'IS claim' of flood sabotage is fake") is None
    # without the fact check's verdict the same statement labels
    assert ext(rules, "A statement from the Islamic State group's Amaq agency claimed responsibility for the attack.") == ["Islamic State"]


def test_an_attackers_post_quoted_after_declaring_is_carried(rules):
    body = ('Minutes before the van mounted the pavement, the man charged in the attack posted a message on Facebook '
            'declaring: "The rebellion has already begun and we will overthrow them all!"')
    assert ext(rules, body) == []
