from tests.fakebot import FakeUser


async def test_cadre_logs_a_message(bot):
    user = FakeUser(id=1001, first_name="伟")
    await bot.enrol(user, "A001", "张伟")
    replies = await bot.say(user, "1.与县发改委对接项目用地\n2.起草月度工作总结")
    assert "已记录 11月20日 2条" in replies[0]
    entries = await bot.entries("A001")
    assert [e.text for e in entries] == ["与县发改委对接项目用地", "起草月度工作总结"]
    assert entries[0].collaborator == "县发改委"
