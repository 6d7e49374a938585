"""`help WORD` reads the table harness/help.py builds from the comments next
to each word's source.  Every word the kernel defines has its stack effect
there: a new word without one fails here, naming its file."""
from harness.build import files_sources, forth_sources, llm_sources
from harness.help import asm_entries, entries, forth_entries
from harness.run import forth_words


def test_every_word_in_the_dictionary_has_its_stack_effect(console):
    table = {}
    for e in entries("m3", forth_sources("m3") + files_sources() + llm_sources()):    # the file system's
        table[e.name.lower()] = e                                      # stand-ins: its words
    m = console.machine
    words = forth_words(m.cpu.uc.mem_read, m.symbols.address("latest", m.load_base))
    missing = sorted(name for name, _ in words
                     if name.lower() not in table or not table[name.lower()].stack)
    assert not missing, f"words whose source gives no stack effect: {missing}"


def test_help_shows_what_the_table_holds(console):
    table = {e.name: e for e in entries("m3", forth_sources("m3"))}
    for name in ("swap", "allocate", "spawn", "edit-line", "cmdline", "see", "+"):
        e = table[name]
        out = console.send(f"help {name}")
        assert f"{name} {e.stack}" in out, out
        assert e.source in out
        if e.text:
            assert e.text[:40] in out


def test_the_extractor_reads_both_kinds_of_source(tmp_path, monkeypatch):
    import harness.help as h
    monkeypatch.setattr(h, "ROOT", tmp_path)
    asm = tmp_path / "w.S"
    asm.write_text('/* frob ( a b -- c ) combine two things.\n * More text. */\n'
                   'word "frob", w_frob\n    ret\nendword w_frob\n'
                   '/* x+ ( a -- a+1 )  y- ( a -- a-1 ) */\n'
                   'unop "x+", w_xp, add tos, tos, #1\nunop "y-", w_ym, sub tos, tos, #1\n')
    fth = tmp_path / "w.fth"
    fth.write_text(': sq ( n -- n*n ) dup * ;  \\ the square\n'
                   '\\ cube ( n -- n^3 ) the cube\n: cube dup sq * ;\n'
                   'variable v1   2 constant two\n'
                   ': s" ( "ccc<quote>" -- ) ; : inner create 0 , ;\n')
    a = {e.name: e for e in asm_entries(asm)}
    assert a["frob"].stack == "( a b -- c )" and a["frob"].text.startswith("combine two things")
    assert a["x+"].stack == "( a -- a+1 )" and a["y-"].stack == "( a -- a-1 )"
    f = {e.name: e for e in forth_entries(fth)}
    assert f["sq"].stack == "( n -- n*n )" and f["sq"].text == "the square"
    assert f["cube"].stack == "( n -- n^3 )" and f["cube"].text == "the cube"
    assert f["v1"].stack == "( -- a-addr )" and f["two"].stack == "( -- x )"
    assert f['s"'].stack == '( "ccc<quote>" -- )'
    assert "0" not in f                      # CREATE inside a definition defines nothing yet
