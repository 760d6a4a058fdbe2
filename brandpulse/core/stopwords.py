"""Frequent function words of the supported languages: never a topic keyword,
never one of the "terms that grew"."""

#: frequent function words of the supported languages, never "terms that grew"
STOPWORDS = sorted(
    set(
        """
a an and are as at be been but by for from had has have i in is it its me my no not of on or our
so that the their there this to was we were what when where which who why will with you your
der die das und ist nicht ein eine mit von zu den dem des ich mein meine auf für im es sie wir
le la les un une et est pas de du des je mon ma mes pour en que qui avec sur il elle nous
el los las y es no de del un una que en mi por con para lo se al
o os as e é não de do da um uma que em meu minha por com para
il lo gli i e è non di del un una che in mio mia per con
""".split()
    )
)
