"""Recognition: the points rulebook (积分细则, rulebook.py), deductions with due process
(deductions.py), medals by rule (medals.py) and quarterly selections of 道德模范 and 最美家庭
(selections.py). The pure rules of all four are rules.py. Acts that need a second person go through
the held queue (domain/oversight/queue.py kinds rulebook, deduction, selection)."""
